"""Loading the lab's 2-D dataset.

Two formats are read: the course's own `.npz` file (keys train_X (2, m), train_Y (1, m), test_X,
test_Y) and the classic MATLAB file of the original exercise (keys X (m, 2), y (m, 1), Xval, yval,
stored row-major, hence transposed here).

Which file the course uses is named by the one-line file `dataset.txt` beside the notebooks,
written by the instructor's `nnlab release`. It travels with the course files, so a student's copy,
the solution run and a grading kernel (whose environment is cleared) all load the same data.
"""
import hashlib
import os
from pathlib import Path

import numpy as np

COURSE_FOLDER = Path(__file__).resolve().parent.parent
BUNDLED = COURSE_FOLDER / "football.npz"
SETTING = COURSE_FOLDER / "dataset.txt"
# A developer's override of the course's setting (not used by the course itself).
DATASET_ENV = "NNLAB_DATASET"
# sha256 of the arrays (shapes and float64 bytes) of the lab's original data.mat, as loaded here:
# recognises that file whatever its MATLAB container bytes.
CLASSIC_FINGERPRINT = "82218cebaf91d4e753201a6998ba7b4aff71e8bfe31eaedbbcef3a1a041d5f47"


def dataset_path(path=None):
    """The file to load: `path` if given, else $NNLAB_DATASET if set, else the file named by
    dataset.txt (relative to the course folder), else the bundled file."""
    if path or os.environ.get(DATASET_ENV):
        return Path(path or os.environ[DATASET_ENV])
    if SETTING.is_file():
        return COURSE_FOLDER / SETTING.read_text().strip()
    return BUNDLED


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


def fingerprint(*arrays):
    """sha256 of the arrays' shapes and float64 values."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array, dtype=np.float64)
        digest.update(repr(array.shape).encode() + array.tobytes())
    return digest.hexdigest()


def is_classic(train_X, train_Y, test_X, test_Y):
    """Whether these are the arrays of the lab's original data.mat (where the lab's figures hold)."""
    return fingerprint(train_X, train_Y, test_X, test_Y) == CLASSIC_FINGERPRINT


def _load_mat(path):
    from scipy.io import loadmat  # only the classic format needs scipy

    data = loadmat(path)
    # labels are stored as uint8, where 1 - y or -y would wrap around: use floats
    return data["X"].T, data["y"].T.astype(float), data["Xval"].T, data["yval"].T.astype(float)
