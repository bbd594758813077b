"""A course switched to the lab's original data.mat (c.NNLab.dataset): `nnlab release` builds it
for that file, the released folder carries it, the expected outputs show the lab's figures, it
regenerates identically, leaks nothing, and grading holds the demo class to the lab's figures."""
import re

import nbformat
import pytest

from nnlab import notebooks
from nnlab.authoring.demo import manifest, mismatches
from nnlab.authoring.release import build, expected_blocks, fill_notebook

from conftest import SEED_DATA
from test_release import leaks

pytestmark = pytest.mark.skipif(not SEED_DATA.is_file(), reason=f"the lab's data file {SEED_DATA} is absent")

# FIGURES.md, part 1: what each training cell prints on the lab's data
LAB_ACCURACIES = {
    "train_plain": ["0.9478672985781991", "0.915"],
    "train_l2": ["0.9383886255924171", "0.93"],
    "train_dropout": ["0.9289099526066351", "0.95"],
}


def course_files(course):
    return {path: path.read_bytes() for kind in ("source", "release", "solutions")
            for path in sorted((course.root / kind).rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def test_the_course_files_name_and_carry_the_dataset(classic_course):
    for kind in ("source", "release", "solutions"):
        folder = classic_course.folder(kind)
        assert (folder / "dataset.txt").read_text() == "data.mat\n"
        assert (folder / "data.mat").read_bytes() == SEED_DATA.read_bytes()


@pytest.mark.parametrize("cell_id", LAB_ACCURACIES)
def test_expected_outputs_show_the_lab_figures(classic_course, cell_id):
    """The master's block after each training cell, filled by `nnlab release`, shows the lab's
    accuracies and names the dataset; students see the same block in release/."""
    for kind in ("source", "release"):
        notebook = nbformat.read(classic_course.folder(kind) / "regularization.ipynb", as_version=4)
        block = {notebooks.cell_id(code): text.source for code, text in expected_blocks(notebook)}[cell_id]
        assert re.findall(r"Accuracy: (\S+)", block) == LAB_ACCURACIES[cell_id]
        assert "`data.mat`" in block and "football" not in block


@pytest.mark.parametrize("name", ["regularization", "batchnorm"])
def test_expected_outputs_agree_with_the_solution(classic_course, name):
    master = nbformat.read(classic_course.folder("source") / f"{name}.ipynb", as_version=4)
    executed = nbformat.read(classic_course.folder("solutions") / f"{name}.ipynb", as_version=4)
    assert not fill_notebook(master, executed, "data.mat"), "a block differs from what the solution prints"


def test_hidden_tests_check_the_lab_figures(classic_course):
    """The solution passes every test, and the hidden model tests took their lab-data branch."""
    executed = nbformat.read(classic_course.folder("solutions") / "regularization.ipynb", as_version=4)
    assert notebooks.errors(executed) == {}
    cells = notebooks.by_id(executed)
    assert "The lab's figures are reproduced on the lab's data." in notebooks.text_output(cells["l2_model_accuracy"])
    assert "Within the band of the lab's data." in notebooks.text_output(cells["dropout_model_accuracy"])


def test_every_gradient_check_is_below_1e_8(classic_course):
    """Every gradient error the solutions print on the lab's data (the hidden checks assert the
    same bound)."""
    errors = []
    for name in ("regularization", "batchnorm"):
        executed = nbformat.read(classic_course.folder("solutions") / f"{name}.ipynb", as_version=4)
        for cell in executed.cells:
            errors += map(float, re.findall(r"error(?: of the gradients)?:?\s+([-+.e\d]+)", notebooks.text_output(cell)))
    assert len(errors) == 11 and max(errors) < 1e-8, errors


def test_release_leaks_nothing(classic_course):
    assert not leaks(classic_course)


def test_release_regenerates_identically(classic_course):
    """A second `nnlab release` changes no byte of the course (runs before the class is graded)."""
    before = course_files(classic_course)
    build(classic_course)
    after = course_files(classic_course)
    assert sorted(after) == sorted(before)
    assert [p.name for p in before if before[p] != after[p]] == []


def test_correct_styles_get_full_marks(classic_graded_class):
    """Every autograded cell at its full points, status ok (the written answers wait for a TA)."""
    rows, students = classic_graded_class
    autograded = len(next(s for s in manifest()[1] if s["id"] == "blank")["lost"])  # the blank loses them all
    solution = {"id": "solution", "status": "ok", "lost": [], "held": [], "reasons": [], "late_penalty": 0.0}
    for student in [solution] + [s for s in students if s["id"].startswith("correct_")]:
        row = rows[student["id"]]
        assert mismatches(student, row) == [], student["id"]
        assert sum(score is not None for score, _ in row["scores"].values()) == autograded, student["id"]


def test_each_bug_loses_what_it_loses_on_the_bundled_data(classic_graded_class):
    """Exactly the cells the manifest states for the bundled data, with the status it states."""
    rows, students = classic_graded_class
    bugs = [s for s in students if s["id"].startswith("bug_")]
    assert len(bugs) >= 10
    for student in bugs:
        assert mismatches(student, rows[student["id"]]) == [], student["id"]
