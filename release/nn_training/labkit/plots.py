"""The figures of part 1: the data, cost curves and decision boundaries; `pyplot` for every figure
of the lab."""
import sys

import numpy as np

from .network import predict_dec

CLASS_COLOURS = "Spectral"
DPI = 72
_configured = False


def pyplot():
    """matplotlib's pyplot, imported at the first figure (a grading that draws none never loads
    it), drawing into the notebook (IPython's `%matplotlib inline`) at DPI dots per inch."""
    global _configured
    import matplotlib.pyplot as plt

    if not _configured:
        shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
        plt.rcParams["figure.dpi"] = DPI
        _configured = True
    return plt


def plot_dataset(train_X, train_Y, test_X=None, test_Y=None):
    """Scatter plot of the training points (and, if given, the test points beside them)."""
    plt = pyplot()
    panels = [("training set", train_X, train_Y)]
    if test_X is not None:
        panels.append(("test set", test_X, test_Y))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (title, X, Y) in zip(axes[0], panels):
        _scatter(ax, X, Y)
        ax.set_title(title)
    plt.show()


def plot_costs(costs, title="", every=1000):
    """Cost recorded every `every` iterations, against the iteration number."""
    plt = pyplot()
    plt.figure(figsize=(5, 3.5))
    plt.plot(np.arange(len(costs)) * every, costs)
    plt.xlabel("iteration")
    plt.ylabel("cost")
    plt.title(title)
    plt.show()


def plot_decision_boundary(parameters, X, Y, title="", ax=None):
    """The model's decision regions over the data's bounding box, with the points of (X, Y)."""
    plt = pyplot()
    show = ax is None
    if show:
        _, ax = plt.subplots(figsize=(5, 4))
    xx, yy = _grid(X)
    regions = predict_dec(parameters, np.c_[xx.ravel(), yy.ravel()].T).reshape(xx.shape)
    ax.contourf(xx, yy, regions, cmap=CLASS_COLOURS, alpha=0.8)
    _scatter(ax, X, Y)
    ax.set_title(title)
    if show:
        plt.show()


def plot_run(trained, name, X, Y):
    """The cost curve and the decision boundary of the run `name` of `trained` ({name: (parameters,
    costs)}, filled by the training cells), or a note if its cell did not finish."""
    if name not in trained:
        print(f"No figures: the run {name!r} above did not finish.")
        return
    parameters, costs = trained[name]
    plot_costs(costs, name)
    plot_decision_boundary(parameters, X, Y, name)


def plot_comparison(runs, X, Y):
    """Decision boundaries of several runs side by side, each titled with its accuracies.

    runs: list of (name, parameters, train_accuracy, test_accuracy).
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 4))
    for ax, (name, parameters, train_acc, test_acc) in zip(np.atleast_1d(axes), runs):
        plot_decision_boundary(parameters, X, Y, f"{name}\ntrain {train_acc:.3f} · test {test_acc:.3f}", ax)
    fig.tight_layout()
    plt.show()


def _scatter(ax, X, Y):
    ax.scatter(X[0, :], X[1, :], c=np.ravel(Y), s=25, cmap=CLASS_COLOURS, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def _grid(X, padding=0.1, step=0.005):
    x_min, x_max = X[0, :].min() - padding, X[0, :].max() + padding
    y_min, y_max = X[1, :].min() - padding, X[1, :].max() + padding
    return np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))
