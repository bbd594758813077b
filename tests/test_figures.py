"""The solutions reproduce the lab's figures (FIGURES.md): part 1 in a course set to the lab's
original data file, where all its tests still pass, and part 2; and the expected outputs shown to
students are what the solutions print."""
import re

import nbformat
import pytest

from nnlab import notebooks
from nnlab.authoring.release import fill_notebook
from nnlab.authoring.roundoff import NUMBER, ROUND_OFF_LEVEL, same_text

from conftest import GENERATED, SEED_DATA

# FIGURES.md, part 1: (train accuracy, test accuracy, costs at iterations 0, 10000, 20000)
LAB_FIGURES = {
    "train_plain": ("0.9478672985781991", "0.915", (0.6557412523481002, 0.16329987525724, 0.13851642423)),
    "train_l2": ("0.9383886255924171", "0.93", (0.6974484493131264, 0.2684918873282239, 0.268091633712730)),
    "train_dropout": ("0.9289099526066351", "0.95", (0.6543912405149825, 0.06101698657490, 0.06058243579851)),
}

SKIP_WITHOUT_SEED = pytest.mark.skipif(not SEED_DATA.is_file(), reason=f"the lab's data file {SEED_DATA} is absent")


@pytest.fixture(scope="module")
def executed(classic_course):
    """The solution of part 1 as `nnlab release` executed it in a course set to the lab's data.mat."""
    return nbformat.read(classic_course.folder("solutions") / "regularization.ipynb", as_version=4)


@SKIP_WITHOUT_SEED
def test_all_cells_run_and_all_tests_pass(executed):
    assert notebooks.errors(executed) == {}
    tests = [c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert tests and all("Test passed." in notebooks.text_output(c) for c in tests)


@SKIP_WITHOUT_SEED
@pytest.mark.parametrize("cell_id", LAB_FIGURES)
def test_accuracies_exact_and_costs_within_1e9(executed, cell_id):
    train, test, costs = LAB_FIGURES[cell_id]
    text = notebooks.text_output(notebooks.by_id(executed)[cell_id])
    assert re.findall(r"Accuracy: (\S+)", text) == [train, test]
    printed = [float(v) for v in re.findall(r"Cost after iteration \d+: (\S+)", text)]
    assert len(printed) == 3
    # FIGURES.md quotes some costs to 11-16 digits: truncation stays far below the 1e-9 bound
    assert all(abs(value - expected) < 1e-9 for value, expected in zip(printed, costs))


# FIGURES.md, part 2: what the executed solution of batchnorm.ipynb prints
BATCHNORM_FIGURES = {
    "check_forward_train": [
        "  means: [ -2.3814598  -13.18038246   1.91780462]",
        "  stds:  [27.18502186 34.21455511 37.68611762]",
        "  stds:  [0.99999999 1.         1.        ]",
        "  means: [11. 12. 13.]",
        "  stds:  [0.99999999 1.99999999 2.99999999]",
    ],
    "check_forward_test": [
        "  means: [-0.03927354 -0.04349152 -0.10452688]",
        "  stds:  [1.01531428 1.01238373 0.97819988]",
    ],
    "check_backward": [
        "dx error:      1.7029261167605239e-09",
        "dgamma error:  7.420414216247087e-13",
        "dbeta error:   2.8795057655839487e-12",
    ],
    "compare_backward": ["dgamma difference:  0.0", "dbeta difference:   0.0"],
}


def executed_solution(request, generated, name):
    course = request.getfixturevalue(generated)
    return nbformat.read(course.folder("solutions") / f"{name}.ipynb", as_version=4)


def printed_up_to_round_off(line, printed):
    return any(same_text(line, other) for other in printed)


@GENERATED
@pytest.mark.parametrize("cell_id", BATCHNORM_FIGURES)
def test_batchnorm_solution_prints_the_lab_figures(request, generated, cell_id):
    executed = executed_solution(request, generated, "batchnorm")
    printed = notebooks.text_output(notebooks.by_id(executed)[cell_id]).splitlines()
    for line in BATCHNORM_FIGURES[cell_id]:
        assert printed_up_to_round_off(line, printed), (line, printed)
        if cell_id == "check_backward":
            assert gradient_error_of_the_lab_order(line, printed), (line, printed)


def gradient_error_of_the_lab_order(line, printed):
    """Round-off comparison lets any two values below 1e-8 agree; a gradient check's error is such
    a value, and FIGURES.md holds it to the lab's order: within a factor of 2 of the lab's (the
    other forms of x_hat it names give 1e-9 and 1e-12 too, a wrong gradient gives far more)."""
    label, lab = line.split(":")
    values = [float(NUMBER.search(other.split(":")[1]).group()) for other in printed
              if other.split(":")[0] == label]
    assert float(lab) < ROUND_OFF_LEVEL and len(values) == 1, (line, printed)
    return 0.5 <= values[0] / float(lab) <= 2


@GENERATED
@pytest.mark.parametrize("name", ["regularization", "batchnorm"])
def test_expected_outputs_are_what_the_solution_prints(request, generated, name):
    """Every line of an 'Expected output' block (but round-off placeholders marked ~) is printed
    by the code cell just above it in the executed solution, up to round-off."""
    cells = executed_solution(request, generated, name).cells
    checked, inexact = 0, 0
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "markdown" and cell.source.startswith("**Expected output**") and "```" in cell.source:
            block = re.search(r"```\n(.*?)```", cell.source, re.S).group(1)
            printed = notebooks.text_output(before).splitlines()
            for line in block.splitlines():
                if "~" not in line:
                    assert printed_up_to_round_off(line, printed), (before.metadata, line)
                    checked, inexact = checked + 1, inexact + (line not in printed)
    assert checked >= 6
    if generated == "other_numerics_course" and name == "regularization":
        assert inexact, "the other numerics should print other last digits of the costs"


@GENERATED
@pytest.mark.parametrize("name", ["regularization", "batchnorm"])
def test_expected_outputs_are_what_nnlab_release_writes(request, generated, name):
    """Filling the committed master's blocks from the solution nbgrader executes changes nothing."""
    course = request.getfixturevalue(generated)
    master = nbformat.read(course.folder("source") / f"{name}.ipynb", as_version=4)
    executed = executed_solution(request, generated, name)
    assert not fill_notebook(master, executed, "football.npz"), f"run `nnlab release`: a block of {name} is stale"
