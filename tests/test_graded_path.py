"""Grading runs the graded path: the course's experiment cells (provided cells the release tags
"experiment") keep the outputs the student submitted, marked as not run again, unless the grading
is full (`nnlab grade --full`, `c.GuardedExecute.full`)."""
import nbformat
from nbgrader.utils import determine_grade

from nnlab.authoring.demo import limits, make_class, manifest
from nnlab.grading.batch import grade_class
from nnlab.steps.execution import NOT_RE_RUN
from nnlab.steps.intake import KEPT_BYTES, KEY, SUBMITTED_OUTPUTS, keep_experiment_outputs
from nnlab.results.export import class_rows

from conftest import course_cell, executed_in_memory, released_copy


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
    autograded = course.root / "autograded" / SAMPLE[0] / course.assignment / "batchnorm.ipynb"
    scores, skipped = {}, {}
    for full in (False, True):
        config = limits(settings)
        config["GuardedExecute"]["full"] = full
        grade_class(course, list(SAMPLE), jobs=2, config=config, out=lambda line: None)
        scores[full] = {row["student"]: row["auto"] for row in class_rows(course)}
        skipped[full] = sum(any(out.get("text") == NOT_RE_RUN for out in cell.get("outputs", []))
                            for cell in nbformat.read(autograded, as_version=4).cells)
    assert skipped == {False: 3, True: 0}  # the timing, the curves and the sweeps
    assert len(scores[False][SAMPLE[0]]) >= 25  # every test cell of both notebooks
    assert scores[True] == scores[False]
    assert scores[False]["correct_classic"]["l2_cost_value"] == 1  # graded, not blank
