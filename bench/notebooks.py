"""Grading stays cheap: time to execute the whole solution notebook (kernel start, plots and every
test included) over the time of its three training runs alone. Target: at most 1.5x.

Both are measured side by side in this one run, alternately, `--repeats` times; medians are
compared. Run: .venv/bin/python bench/notebooks.py
"""
import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "source" / "nn_training"
NOTEBOOK = FOLDER / "regularization.ipynb"
TRAINING_CELLS = ("train_plain", "train_l2", "train_dropout")
TARGET = 1.5


def training_runs_only():
    """The three `model(...)` calls of the notebook, with its own solution functions, in-process."""
    sys.path.insert(0, str(FOLDER))
    from labkit import network
    from labkit.data import load_dataset

    namespace = {"np": __import__("numpy"), **vars(network)}
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    for cell in cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    train_X, train_Y, _, _ = load_dataset()
    calls = [_model_call(cell.source) for cell in cells
             if cell.metadata.get("nbgrader", {}).get("grade_id") in TRAINING_CELLS]
    assert len(calls) == len(TRAINING_CELLS)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the cost lines the notebook prints too
        for call in calls:
            eval(call, namespace, {"train_X": train_X, "train_Y": train_Y})
    return time.perf_counter() - started


def _model_call(source):
    """The `model(...)` expression of a training cell (it may span several lines)."""
    start = source.index("model(")
    depth = 0
    for end, char in enumerate(source[start:], start):
        depth += (char == "(") - (char == ")")
        if depth == 0 and char == ")":
            return source[start:end + 1]
    raise ValueError("no complete model(...) call")


def whole_notebook():
    from nnlab.notebooks import execute

    started = time.perf_counter()
    execute(NOTEBOOK)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    notebook_times, training_times = [], []
    for _ in range(args.repeats):
        notebook_times.append(whole_notebook())
        training_times.append(training_runs_only())
    notebook, training = statistics.median(notebook_times), statistics.median(training_times)
    print(f"whole solution notebook: median {notebook:.2f} s over {args.repeats} runs")
    print(f"three training runs:     median {training:.2f} s over {args.repeats} runs")
    ratio = notebook / training
    print(f"ratio notebook / training: {ratio:.2f}x (target <= {TARGET}x): {'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
