"""Loading the lab's 2-D dataset.

Two formats are read: the course's own `.npz` file (keys train_X (2, m), train_Y (1, m), test_X,
test_Y) and the classic MATLAB file of the original exercise (keys X (m, 2), y (m, 1), Xval, yval,
stored row-major, hence transposed here).
"""
import os
from pathlib import Path

import numpy as np

DATASET_ENV = "NNLAB_DATASET"
BUNDLED = Path(__file__).resolve().parent.parent / "football.npz"


def dataset_path(path=None):
    """The file to load: `path` if given, else $NNLAB_DATASET if set, else the bundled file."""
    return Path(path or os.environ.get(DATASET_ENV) or BUNDLED)


def load_dataset(path=None):
    """Load the dataset.

    Returns: train_X (2, m_train), train_Y (1, m_train), test_X (2, m_test), test_Y (1, m_test).
    """
    path = dataset_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if path.suffix == ".mat":
        return _load_mat(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            return tuple(data[k] for k in ("train_X", "train_Y", "test_X", "test_Y"))
    raise ValueError(f"unknown dataset format {path.suffix!r} (expected .npz or .mat): {path}")


def _load_mat(path):
    from scipy.io import loadmat  # only the classic format needs scipy

    data = loadmat(path)
    # labels are stored as uint8, where 1 - y or -y would wrap around: use floats
    return data["X"].T, data["y"].T.astype(float), data["Xval"].T, data["yval"].T.astype(float)
