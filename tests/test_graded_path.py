"""Grading runs the graded path: the course's experiment cells (provided cells the release tags
"experiment") keep the outputs the student submitted, marked as not run again, and the runs of
provided code alone are read from their record, unless the grading is full (`nnlab grade --full`,
`c.GuardedExecute.full`)."""
import fcntl
import logging
import os
import re

import nbformat
import numpy as np
import pytest
from nbgrader.utils import determine_grade

from nnlab.authoring.demo import limits, make_class, manifest
from nnlab.notebooks import by_id, text_output
from nnlab.grading.batch import grade_class
from nnlab.steps import provided
from nnlab.steps.execution import NOT_RE_RUN
from nnlab.steps.intake import KEPT_BYTES, KEY, SUBMITTED_OUTPUTS, keep_experiment_outputs
from nnlab.grading.outcome import class_rows

from conftest import course_cell, executed_in_memory, released_copy
from labkit import network, runs
from labkit.data import load_dataset


PLOT = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})


def cells():
    return [course_cell("ran = False", "setup"),
            course_cell("ran = True\nprint('the experiment ran')", "plots", tags=["experiment"]),
            course_cell("assert not ran, 'the experiment ran'\nprint('Test passed.')", "test", points=1)]


def test_an_experiment_shows_the_submitted_outputs_and_is_not_run():
    graded = executed_in_memory(cells(), {KEY: {SUBMITTED_OUTPUTS: {"plots": [PLOT]}}})
    marker, plot = graded["plots"].outputs
    assert marker.text == NOT_RE_RUN and plot.data["image/png"] == PLOT.data["image/png"]
    assert determine_grade(graded["test"])[0] == 1


def test_a_full_grading_runs_the_experiment():
    graded = executed_in_memory(cells(), {KEY: {SUBMITTED_OUTPUTS: {"plots": [PLOT]}}}, full=True)
    assert [out.text for out in graded["plots"].outputs] == ["the experiment ran\n"]
    assert determine_grade(graded["test"])[0] == 0


def test_the_release_decides_what_an_experiment_is_and_big_outputs_are_cut():
    reference = nbformat.v4.new_notebook(cells=cells())
    student = nbformat.v4.new_notebook(cells=cells())
    for cell in student.cells:
        cell.metadata["tags"] = ["experiment"]  # tags the student added count for nothing
    student.cells[1].outputs = [PLOT, nbformat.v4.new_output("stream", name="stdout", text="x" * KEPT_BYTES)]
    assert keep_experiment_outputs(student, reference) == {"plots": [PLOT]}
    del student.cells[1]
    assert keep_experiment_outputs(student, reference) == {"plots": []}


# ---- runs of provided code alone: recorded once, read back by every kernel

def test_a_recorded_run_of_provided_code_is_read_back_as_training_gives_it(tmp_path, monkeypatch, capsys):
    """labkit: a run recorded in the kernel's folder gives the parameters, printed costs and numpy
    random state that training gives."""
    X, Y, _, _ = load_dataset()
    settings = {"learning_rate": 0.3, "num_iterations": 3001}
    trained = network.model(X, Y, **settings)
    printed, state = capsys.readouterr().out, np.random.get_state()[1].copy()
    runs.record(tmp_path / runs.FOLDER, X, Y, settings, *trained)
    monkeypatch.chdir(tmp_path)
    np.random.seed(0)
    parameters, costs = network.model(X, Y, **settings)
    assert capsys.readouterr().out == printed and len(printed.splitlines()) == 1
    assert costs == trained[1] and parameters.keys() == trained[0].keys()
    assert all(np.array_equal(parameters[k], trained[0][k]) for k in parameters)
    assert np.array_equal(np.random.get_state()[1], state)


def test_only_a_run_of_provided_code_alone_on_the_recorded_data_is_read_back(tmp_path, monkeypatch):
    """A record (marked here by costs training never gives) is read only for the provided
    functions, the same data and settings, and a readable file: anything else is trained."""
    X, Y, _, _ = load_dataset()
    settings = {"learning_rate": 0.3, "num_iterations": 1001}
    parameters, costs = network.model(X, Y, print_cost=False, **settings)
    runs.record(tmp_path / runs.FOLDER, X, Y, settings, parameters, [-1.0] * len(costs))
    monkeypatch.chdir(tmp_path)
    assert network.model(X, Y, print_cost=False, **settings)[1] == [-1.0, -1.0]
    for other in [dict(backward=network.backward_propagation), dict(X=X[:, 1:], Y=Y[:, 1:]),
                  dict(X=X.astype(np.float32)), dict(learning_rate=0.2)]:
        run = {"X": X, "Y": Y, **settings, **other}
        assert network.model(print_cost=False, **run)[1][0] > 0, other
    for record in (tmp_path / runs.FOLDER).iterdir():
        record.write_bytes(b"not a record")
    assert network.model(X, Y, print_cost=False, **settings)[1] == costs


RECORDER = """import os, pathlib, sys
with open(os.environ["RECORDINGS"], "a") as log:
    log.write("recorded\\n")
folder = pathlib.Path(sys.argv[1]) / "runs"
folder.mkdir()
(folder / "run.txt").write_text("read from the record")
"""
READER = "import os\nprint(open('runs/run.txt').read() if os.path.exists('runs/run.txt') else 'computed')"


@pytest.mark.parametrize("recorder, full, shown", [(RECORDER, False, "read from the record"),
                                                   (RECORDER, True, "computed"),
                                                   (RECORDER + "raise SystemExit('broken')", False, "computed")],
                         ids=["graded path", "full", "recorder fails"])
def test_the_grader_records_the_provided_runs_once_and_puts_them_beside_the_kernel(
        tmp_path, monkeypatch, caplog, recorder, full, shown):
    """The course's module (`provided_runs`), run by the grader from the release folder, is run
    once for two gradings, even when it fails (logged: the kernel computes); its files are in the
    kernel's folder on the graded path only."""
    (tmp_path / "release" / "ps1").mkdir(parents=True)
    (tmp_path / "release" / "ps1" / "recorder.py").write_text(recorder)
    monkeypatch.setenv("RECORDINGS", str(tmp_path / "recordings.log"))  # an unsandboxed kernel's environment
    for _ in range(2):
        with caplog.at_level(logging.WARNING):
            graded = executed_in_memory([course_cell(READER, "train")], course=tmp_path,
                                        provided_runs="recorder", full=full)
        assert graded["train"].outputs[0].text.strip() == shown
    recordings = tmp_path / "recordings.log"
    assert (recordings.read_text() if recordings.exists() else "") == ("" if full else "recorded\n")
    assert caplog.text.count("were not recorded") == ("broken" in recorder)


def test_a_grader_never_waits_while_another_records_the_provided_runs(tmp_path, monkeypatch):
    """While another grader holds the record's lock, `prepared` returns at once (its kernel
    computes the runs); once it is free, the runs are recorded."""
    release = tmp_path / "release" / "ps1"
    release.mkdir(parents=True)
    (release / "recorder.py").write_text(RECORDER)
    monkeypatch.setenv("RECORDINGS", str(tmp_path / "recordings.log"))
    environment, log = dict(os.environ), logging.getLogger("test")
    store = provided.store_of(tmp_path)
    store.mkdir(parents=True)
    with open(store / f"{provided.key(release, 'recorder', environment)}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another grader, recording
        assert provided.prepared(release, "recorder", environment, tmp_path, log) is None
    assert not (tmp_path / "recordings.log").exists()
    folder = provided.prepared(release, "recorder", environment, tmp_path, log)
    assert (folder / "runs" / "run.txt").is_file() and (tmp_path / "recordings.log").read_text() == "recorded\n"


# Students whose functions the experiments call: correct, wrong in each part, and a forward that
# does not normalize (the experiments' networks then train on nothing).
SAMPLE = ("correct_classic", "bug_l2_cost_mean_and_alt_cache_order",
          "bug_dropout_greater_and_running_not_stored", "bug_identity_pair")


def test_a_full_grading_gives_every_cell_the_graded_paths_score(built_course, tmp_path):
    """The demo students above, graded on the graded path and with --full, score every test cell
    alike."""
    settings, students = manifest()
    course = released_copy(built_course, tmp_path)
    make_class(course, [student for student in students if student["id"] in SAMPLE])
    autograded = course.root / "autograded" / SAMPLE[0] / course.assignment
    scores, skipped, plain_run = {}, {}, {}
    for full in (False, True):
        config = limits(settings)
        config["GuardedExecute"]["full"] = full
        grade_class(course, list(SAMPLE), jobs=2, config=config, out=lambda line: None)
        scores[full] = {row["student"]: row["auto"] for row in class_rows(course)}
        skipped[full] = sum(any(out.get("text") == NOT_RE_RUN for out in cell.get("outputs", []))
                            for cell in nbformat.read(autograded / "batchnorm.ipynb", as_version=4).cells)
        plain_run[full] = text_output(by_id(nbformat.read(autograded / "regularization.ipynb", as_version=4))["train_plain"])
    assert skipped == {False: 3, True: 0}  # the timing, the curves and the sweeps
    assert len(scores[False][SAMPLE[0]]) >= 25  # every test cell of both notebooks
    assert scores[True] == scores[False]
    assert scores[False]["correct_classic"]["l2_cost_value"] == 1  # graded, not blank
    # the run of provided code alone: recorded once, read back, and printing what training prints
    assert len(list((course.root / "grading" / "provided-runs").glob(f"*/{runs.FOLDER}/*.npz"))) == 1
    assert plain_run[False] == plain_run[True] and len(re.findall("Cost after iteration", plain_run[True])) == 3
