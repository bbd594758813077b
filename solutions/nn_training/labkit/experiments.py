"""The experiments of part 2: the same deep network trained with and without batch normalization
on the digits (see `fcnet.load_digits_split`), sweeps over the weight-initialization scale and
the learning rate, their figures, and a fair timing of two implementations of one function.

The functions take your `batchnorm_forward` and `batchnorm_backward` as arguments. The default
settings below keep every experiment to a few seconds.
"""
import time

import numpy as np

from .fcnet import FullyConnectedNet, train
from .plots import pyplot

# five hidden layers: deep enough for the initialization scale to matter
HIDDEN_DIMS = (100, 100, 100, 100, 100)
# Adam's per-weight step sizes partly make up for a poor initialization: they would blur the
# comparison, plain momentum does not
UPDATE_RULE = "sgd_momentum"
LEARNING_RATE = 3e-2
WEIGHT_SCALE = 5e-2  # small but common; the plain network is slow to start from it
BATCH_SIZE = 50
NUM_EPOCHS = 10
SWEEP_EPOCHS = 5
WEIGHT_SCALES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0)

WITHOUT_BN, WITH_BN = "without batchnorm", "with batchnorm"


def compare_batchnorm(data, bn_forward, bn_backward, weight_scale=WEIGHT_SCALE,
                      learning_rate=LEARNING_RATE, num_epochs=NUM_EPOCHS, hidden_dims=HIDDEN_DIMS,
                      batch_size=BATCH_SIZE, update_rule=UPDATE_RULE, seed=0):
    """Train the same network, from the same initial weights and on the same minibatches, once
    without and once with batch normalization.

    Returns: {"without batchnorm": history, "with batchnorm": history}, histories as returned
    by `fcnet.train`.
    """
    runs = {}
    for label, normalization in ((WITHOUT_BN, None), (WITH_BN, "batchnorm")):
        model = FullyConnectedNet(list(hidden_dims), weight_scale=weight_scale,
                                  normalization=normalization, bn_forward=bn_forward,
                                  bn_backward=bn_backward, seed=seed)
        runs[label] = train(model, data, update_rule, learning_rate, num_epochs, batch_size, seed)
    return runs


def weight_scale_sweep(data, bn_forward, bn_backward, weight_scales=WEIGHT_SCALES,
                       num_epochs=SWEEP_EPOCHS, **settings):
    """`compare_batchnorm` at every weight scale (other settings as in compare_batchnorm).

    Returns: a sweep, a dict with name ("weight_scale"), values (the weight scales), and
    val_acc, train_acc (after the last epoch) and diverged (bool), each a dict
    {"without batchnorm": list, "with batchnorm": list} with one entry per value.
    """
    return _sweep("weight_scale", weight_scales, data, bn_forward, bn_backward,
                  num_epochs=num_epochs, **settings)


def learning_rate_sweep(data, bn_forward, bn_backward, learning_rates=LEARNING_RATES,
                        num_epochs=SWEEP_EPOCHS, weight_scale=1e-1, **settings):
    """`compare_batchnorm` at every learning rate, from an initialization that suits the network
    without batchnorm (weight_scale 0.1, close to sqrt(2 / fan_in)).

    Returns: a sweep dict as weight_scale_sweep does, with name "learning_rate".
    """
    return _sweep("learning_rate", learning_rates, data, bn_forward, bn_backward,
                  num_epochs=num_epochs, weight_scale=weight_scale, **settings)


def _sweep(name, values, data, bn_forward, bn_backward, **settings):
    sweep = {"name": name, "values": list(values)}
    for key in ("val_acc", "train_acc", "diverged"):
        sweep[key] = {WITHOUT_BN: [], WITH_BN: []}
    for value in values:
        runs = compare_batchnorm(data, bn_forward, bn_backward, **{**settings, name: value})
        for label, history in runs.items():
            for key in ("val_acc", "train_acc"):
                sweep[key][label].append(history[key][-1])
            sweep["diverged"][label].append(history["diverged"])
    return sweep


def format_sweep(sweep):
    """The final validation accuracies of a sweep as a small text table (D: diverged)."""
    lines = [f"{sweep['name']:>14} | {WITHOUT_BN:>17} | {WITH_BN:>14}"]
    for i, value in enumerate(sweep["values"]):
        cells = [f"{sweep['val_acc'][label][i]:.3f}{' D' if sweep['diverged'][label][i] else '  '}"
                 for label in (WITHOUT_BN, WITH_BN)]
        lines.append(f"{value:>14g} | {cells[0]:>17} | {cells[1]:>14}")
    return "\n".join(lines)


def plot_training_curves(runs, title=""):
    """Training loss per iteration, training and validation accuracy per epoch, for several runs.

    runs: {label: history} with histories as returned by `fcnet.train`.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for label, history in runs.items():
        # a log scale shows both the first epochs and the end of training
        axes[0].semilogy(history["loss"], label=label, alpha=0.8)
        axes[1].plot(history["epoch"], history["train_acc"], "o-", label=label)
        axes[2].plot(history["epoch"], history["val_acc"], "o-", label=label)
    for ax, ylabel in zip(axes, ("training loss", "training accuracy", "validation accuracy")):
        ax.set_xlabel("iteration" if ax is axes[0] else "epoch")
        ax.set_ylabel(ylabel)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()


def plot_sweeps(*sweeps):
    """Final validation accuracy against the swept setting (log axis), one line with and one
    without batchnorm; crosses mark the runs that diverged. One panel per sweep."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(sweeps), figsize=(6 * len(sweeps), 4), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps):
        values = np.array(sweep["values"])
        for label in (WITHOUT_BN, WITH_BN):
            accuracies = np.array(sweep["val_acc"][label])
            diverged = np.array(sweep["diverged"][label], dtype=bool)
            line, = ax.semilogx(values, accuracies, "o-", label=label)
            ax.semilogx(values[diverged], accuracies[diverged], "x", color=line.get_color(), ms=12)
        ax.axhline(0.1, color="grey", ls=":", label="chance (10 classes)")
        ax.set_xlabel(sweep["name"].replace("_", " "))
        ax.set_title(f"{sweep['name'].replace('_', ' ')} sweep")
        ax.set_ylabel("final validation accuracy")
        ax.set_ylim(0, 1.02)
        ax.legend()
    fig.tight_layout()
    plt.show()


def compare_speed(f_slow, f_fast, args, repeats=200):
    """Time f_slow(*args) against f_fast(*args) fairly.

    Each repeat times both calls back to back (time.perf_counter), in an order that alternates
    between repeats, so that a slow spell of the machine slows both; the ratio of a repeat's two
    times is its speed-up. Each function is called once beforehand, untimed (warm-up).
    Returns: dict with speedup_median, speedup_p5, speedup_p95 (the median and the 5% and 95%
    percentiles of the per-repeat ratios slow / fast), slow_median and fast_median (seconds),
    and repeats.
    """
    f_slow(*args), f_fast(*args)
    times = np.empty((repeats, 2))
    for i in range(repeats):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for j in order:
            function = (f_slow, f_fast)[j]
            start = time.perf_counter()
            function(*args)
            times[i, j] = time.perf_counter() - start
    ratios = times[:, 0] / times[:, 1]
    p5, median, p95 = np.percentile(ratios, [5, 50, 95])
    return {"speedup_median": float(median), "speedup_p5": float(p5), "speedup_p95": float(p95),
            "slow_median": float(np.median(times[:, 0])), "fast_median": float(np.median(times[:, 1])),
            "repeats": repeats}


def format_speed(result, slow="batchnorm_backward", fast="batchnorm_backward_alt"):
    """One line summarising a `compare_speed` result."""
    return (f"{fast} is {result['speedup_median']:.2f}x as fast as {slow} (median of "
            f"{result['repeats']} paired runs, 90% of them between {result['speedup_p5']:.2f}x and "
            f"{result['speedup_p95']:.2f}x; median times {result['fast_median'] * 1e6:.1f} µs "
            f"against {result['slow_median'] * 1e6:.1f} µs)")
