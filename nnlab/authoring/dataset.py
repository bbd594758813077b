"""Generator of the course's 2-D "football field" dataset.

The story: over a season our coach noted, for every spot of the pitch where a high ball came
down, who won the header: our team (label 1) or the rivals (label 0). The two coordinates are
that spot, scaled to about [-0.75, 0.75] on each axis. Our players dominate the part of the pitch
above a bending line, the rivals the part below it; right on the line it is a toss-up. During the
recorded (training) season the rivals also had a few rehearsed set pieces, so they won small
clusters of headers just inside our zone, and we won a few just inside theirs. Those clusters are
one season's quirks: the next season (the test set) follows the line only.

A network that bends its boundary around every cluster scores well on the training season and
worse on the next one; L2 regularization and dropout ignore the clusters and generalize better.
DEFAULT_SEED and the settings below were chosen by training the lab's network on the result.

Run `python -m nnlab.authoring.dataset [--seed N] [--out PATH]` to (re)write the bundled file.
"""
import argparse
from pathlib import Path

import numpy as np

DEFAULT_SEED = 97
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "source" / "nn_training" / "football.npz"

M_TRAIN, M_TEST = 211, 200
HALF_WIDTH = 0.75  # points lie in [-HALF_WIDTH, HALF_WIDTH]^2, the classic exercise's scale

# The bending line y = boundary(x): about one wave across the pitch, on a slope.
WAVE_AMPLITUDE, WAVE_FREQUENCY, WAVE_PHASE, TILT = 0.25, 4.0, 0.3, 0.25
# Std of a per-point jitter of the line, so that labels blur near it in both seasons.
BOUNDARY_NOISE = 0.03
# The training season's clusters of headers won by the "wrong" team.
N_POCKETS, POCKET_SIZE, POCKET_RADIUS = 6, 4, 0.05
# Pockets sit beside the line rather than on it (there they would be mere boundary noise) and
# not deep inside a zone: a tongue of the boundary can reach them, as an overfitting net does.
POCKET_MIN_DEPTH, POCKET_MAX_DEPTH = 0.06, 0.25


def boundary(x):
    """Height of the bending line at abscissa x; label 1 (our team) above it."""
    return WAVE_AMPLITUDE * np.sin(WAVE_FREQUENCY * x + WAVE_PHASE) + TILT * x


def _uniform_points(rng, m):
    """m spots drawn uniformly on the pitch, shape (2, m)."""
    return rng.uniform(-HALF_WIDTH, HALF_WIDTH, size=(2, m))


def _labels(rng, X):
    """Labels of the spots X (2, m): which side of a jittered line each falls, as 0.0 / 1.0."""
    margin = X[1] - boundary(X[0]) + BOUNDARY_NOISE * rng.standard_normal(X.shape[1])
    return (margin > 0).astype(np.float64)


def _pocket_centres(rng):
    """N_POCKETS centres drawn by rejection: at the right depth from the line, and apart."""
    centres = []
    while len(centres) < N_POCKETS:
        c = rng.uniform(-HALF_WIDTH + POCKET_RADIUS, HALF_WIDTH - POCKET_RADIUS, size=2)
        if not POCKET_MIN_DEPTH <= abs(c[1] - boundary(c[0])) <= POCKET_MAX_DEPTH:
            continue
        # two overlapping pockets would make one region large enough to be a real pattern
        if any(np.hypot(*(c - d)) < 4 * POCKET_RADIUS for d in centres):
            continue
        centres.append(c)
    return centres


def _pockets(rng):
    """The clusters: points (2, N_POCKETS * POCKET_SIZE) and labels, opposite to their zone's."""
    X, Y = [], []
    for c in _pocket_centres(rng):
        X.append(c[:, None] + POCKET_RADIUS * rng.standard_normal((2, POCKET_SIZE)))
        Y.append(np.full(POCKET_SIZE, float(c[1] <= boundary(c[0]))))
    return np.hstack(X), np.concatenate(Y)


def generate(seed=DEFAULT_SEED):
    """Build the dataset, deterministically from `seed` (own generator, not numpy's global one).

    Returns: train_X (2, 211), train_Y (1, 211), test_X (2, 200), test_Y (1, 200), all float64,
    labels 0.0 / 1.0. Only the training set contains the pockets.
    """
    rng = np.random.default_rng(seed)
    pocket_X, pocket_Y = _pockets(rng)
    base_X = _uniform_points(rng, M_TRAIN - pocket_X.shape[1])
    train_X = np.hstack([base_X, pocket_X])
    train_Y = np.concatenate([_labels(rng, base_X), pocket_Y])
    order = rng.permutation(M_TRAIN)  # shuffled, so that the pockets do not all sit at the end
    train_X, train_Y = train_X[:, order], train_Y[order]
    test_X = _uniform_points(rng, M_TEST)
    test_Y = _labels(rng, test_X)
    return train_X, train_Y[None, :], test_X, test_Y[None, :]


def write(path=DEFAULT_PATH, seed=DEFAULT_SEED):
    """Generate the dataset from `seed` and save it to `path`.

    The compressed .npz file has the keys train_X, train_Y, test_X, test_Y.
    """
    train_X, train_Y, test_X, test_Y = generate(seed)
    np.savez_compressed(path, train_X=train_X, train_Y=train_Y, test_X=test_X, test_Y=test_Y)


def main(argv=None):
    """Command line: write the dataset file and print where it went."""
    parser = argparse.ArgumentParser(description="Write the football-field dataset (.npz).")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH, help="output .npz file")
    args = parser.parse_args(argv)
    write(args.out, args.seed)
    print(f"wrote {args.out} (seed {args.seed})")


if __name__ == "__main__":
    main()
