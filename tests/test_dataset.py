"""The course's own dataset: generated deterministically, loaded from any supported file, and
teaching the lesson of part 1 with the lab's settings."""
import re

import nbformat
import numpy as np
import pytest

from nnlab import notebooks
from nnlab.authoring import dataset

from conftest import SEED_DATA
from labkit import data  # the loader students use, shipped in source/ (conftest.COURSE_CODE)


def test_bundled_file_is_what_the_generator_writes(tmp_path):
    assert dataset.DEFAULT_PATH == data.BUNDLED
    dataset.write(tmp_path / "fresh.npz")
    for committed, fresh in zip(data.load_dataset(data.BUNDLED), data.load_dataset(tmp_path / "fresh.npz")):
        np.testing.assert_array_equal(committed, fresh)


def test_generator_shapes_labels_and_determinism():
    train_X, train_Y, test_X, test_Y = dataset.generate()
    assert (train_X.shape, train_Y.shape, test_X.shape, test_Y.shape) == ((2, 211), (1, 211), (2, 200), (1, 200))
    assert set(np.unique(train_Y)) == set(np.unique(test_Y)) == {0.0, 1.0}
    again = dataset.generate()
    assert all(np.array_equal(a, b) for a, b in zip(dataset.generate(), again))
    assert not np.array_equal(dataset.generate(dataset.DEFAULT_SEED + 1)[0], train_X)


def test_loader_takes_an_argument_or_the_environment(tmp_path, monkeypatch):
    dataset.write(tmp_path / "other.npz", seed=dataset.DEFAULT_SEED + 1)
    other = data.load_dataset(tmp_path / "other.npz")
    monkeypatch.setenv(data.DATASET_ENV, str(tmp_path / "other.npz"))
    np.testing.assert_array_equal(data.load_dataset()[0], other[0])
    monkeypatch.delenv(data.DATASET_ENV)
    assert not np.array_equal(data.load_dataset()[0], other[0])


def test_loader_reads_the_course_setting_beside_the_notebooks(tmp_path, monkeypatch):
    """dataset.txt names a file of the course folder; without it, the bundled file is loaded."""
    monkeypatch.delenv(data.DATASET_ENV, raising=False)
    dataset.write(tmp_path / "other.npz", seed=dataset.DEFAULT_SEED + 1)
    monkeypatch.setattr(data, "COURSE_FOLDER", tmp_path)
    monkeypatch.setattr(data, "SETTING", tmp_path / "dataset.txt")
    assert data.dataset_path() == data.BUNDLED
    (tmp_path / "dataset.txt").write_text("other.npz\n")
    assert data.dataset_path() == tmp_path / "other.npz"
    np.testing.assert_array_equal(data.load_dataset()[0], data.load_dataset(tmp_path / "other.npz")[0])


def test_the_committed_course_uses_the_bundled_file(monkeypatch):
    monkeypatch.delenv(data.DATASET_ENV, raising=False)
    assert data.dataset_path() == data.BUNDLED
    assert not data.is_classic(*data.load_dataset())


@pytest.mark.skipif(not SEED_DATA.is_file(), reason=f"the lab's data file {SEED_DATA} is absent")
def test_loader_reads_the_classic_mat_file():
    train_X, train_Y, test_X, test_Y = data.load_dataset(SEED_DATA)
    assert (train_X.shape, train_Y.shape, test_X.shape, test_Y.shape) == ((2, 211), (1, 211), (2, 200), (1, 200))
    assert train_Y.dtype == np.float64  # stored as uint8, where 1 - y would wrap
    assert data.is_classic(train_X, train_Y, test_X, test_Y)
    assert not data.is_classic(train_X, 1 - train_Y, test_X, test_Y)


def test_loader_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        data.load_dataset(tmp_path / "nowhere.npz")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="unknown dataset format"):
        data.load_dataset(tmp_path / "data.csv")


def test_the_dataset_teaches_the_lesson(built_course):
    """From the solution notebook nbgrader executed: the plain model overfits, and L2 and dropout
    each gain at least 0.015 test accuracy over it and shrink the train-test gap."""
    executed = nbformat.read(built_course.folder("solutions") / "regularization.ipynb", as_version=4)
    cells = notebooks.by_id(executed)
    runs = {}
    for name in ("plain", "l2", "dropout"):
        train, test = map(float, re.findall(r"Accuracy: (\S+)", notebooks.text_output(cells[f"train_{name}"])))
        runs[name] = (train, test, train - test)
    assert runs["plain"][2] >= 0.03
    for name in ("l2", "dropout"):
        assert runs[name][1] >= runs["plain"][1] + 0.015, (name, runs)
        assert runs[name][2] < runs["plain"][2], (name, runs)
