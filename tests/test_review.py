"""Points held for review: a notebook that tampers with the interpreter is held, export, report and
gradebook agree on it, `nnlab review` releases or voids it, and a regrade keeps the decision while
nothing changed. The submission is graded once; every test works on a copy of its own."""
import csv
import re
import shutil

import pytest
from nbgrader.api import Gradebook
from traitlets.config import Config

from nnlab.authoring import damage
from nnlab.authoring.demo import DEMO, limits, manifest
from nnlab.cli import main
from nnlab.course import Course
from nnlab.grading.batch import grade_class
from nnlab.results.export import graded_cells, write_csv
from nnlab.grading.outcome import duration, outcome
from nnlab.results.feedback import generate_feedback
from nnlab.results.report import write_report

from conftest import fill_on_time, page_text, released_copy

SETTINGS, _ = manifest()
UNDER_REVIEW_TEXT = "This notebook is under review."
STUDENT = "curious"  # correct answers, and a look into the interpreter in batchnorm.ipynb
LOOK = "import inspect\nprint(inspect.signature(batchnorm_forward))"


@pytest.fixture(scope="module")
def graded(built_course, tmp_path_factory):
    """A released copy of the built course with STUDENT graded: batchnorm's points held."""
    course = released_copy(built_course, tmp_path_factory.mktemp("review"))
    fill_on_time(course, [DEMO / "students" / "regularization" / "classic.py",
                          DEMO / "students" / "batchnorm" / "classic.py"], STUDENT)
    damage.insert_cell(course.submission(STUDENT), "batchnorm", "batchnorm_forward", LOOK)
    grade_class(course, config=limits(SETTINGS), out=lambda line: None)
    return course


@pytest.fixture()
def course(graded, tmp_path):
    """The graded course as `graded` left it, in a copy of the test's own (the gradebook, the
    records and the ledger travel with the folder)."""
    return Course(shutil.copytree(graded.root, tmp_path / "course", symlinks=True))


def grade_again(course):
    grade_class(course, force=True, config=limits(SETTINGS), out=lambda line: None)


def autograded(course, notebook):
    """{grade id: (score, manual score, needs manual grade)} of a notebook's test cells."""
    with Gradebook(course.db_url) as gradebook:
        submitted = gradebook.find_submission_notebook(notebook, course.assignment, STUDENT)
        return {g.name: (g.score, g.manual_score, g.needs_manual_grade) for g in submitted.grades
                if g.cell_type == "code"}


def csv_row(course, tmp_path):
    write_csv(course, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv") as handle:
        return next(row for row in csv.DictReader(handle) if row["student"] == STUDENT)


def test_tampering_holds_the_notebook_everywhere(course, tmp_path):
    """Held: flagged in the gradebook, 0 there pending review, "held" in the CSV and the report."""
    row = outcome(course, STUDENT)
    assert row["status"] == "flagged" and set(row["held"]) == {"batchnorm"}
    assert any("held for review" in reason for reason in row["reasons"])
    assert all(score == manual == 0 and needs for score, manual, needs in autograded(course, "batchnorm").values())
    assert not any(manual for _, manual, _ in autograded(course, "regularization").values())
    with Gradebook(course.db_url) as gradebook:
        assert gradebook.find_submission_notebook("batchnorm", course.assignment, STUDENT).flagged
    exported = csv_row(course, tmp_path)
    assert exported["total"] == "held"
    cells = graded_cells(course, tests_only=True)
    assert {exported[c] for c, notebook in cells.items() if notebook == "batchnorm"} == {"held"}
    assert all(exported[c] not in ("", "held") for c, notebook in cells.items() if notebook == "regularization")
    page = write_report(course).read_text()
    assert "Points held for review (1)" in page and STUDENT in page


def test_the_report_leaves_the_held_notebook_out_of_pass_rates_and_says_so(course):
    """The page says which notebooks its pass rates leave out; the held batchnorm's cells are no
    failures (no rate: no one else was judged on them), and the written answers, not graded yet
    (None), are no test cells: regularization's cells all pass."""
    cells, tests = graded_cells(course), graded_cells(course, tests_only=True)
    written = set(cells) - set(tests)
    assert written and all(outcome(course, STUDENT)["scores"][cell][0] is None for cell in written)
    text = " ".join(page_text(write_report(course).read_text()).split())
    assert ("Pass rates count 1 graded submission; they leave out 0 not graded (yet) and 1 "
            "notebook whose points are held for review.") in text
    hardest = re.search(r"Hardest test cells: (.*?)\. Pass rates", text).group(1)
    assert re.findall(r"(\w+) \((\d+)%\)", hardest) == [
        (cell, "100") for cell, notebook in tests.items() if notebook == "regularization"][:5]


def test_accept_releases_the_points_and_a_regrade_keeps_the_decision(course, tmp_path, capsys):
    """--accept: the autograded scores count, in the gradebook and the CSV alike, also after a
    regrade of the unchanged submission."""
    assert main(["--course", str(course.root), "review", STUDENT, "--accept"]) == 0
    assert "batchnorm accepted" in capsys.readouterr().out
    scores = autograded(course, "batchnorm")
    assert all(manual is None and not needs for _, manual, needs in scores.values())
    assert all(score == top for score, top in (outcome(course, STUDENT)["scores"][g] for g in scores))
    row = outcome(course, STUDENT)
    assert row["held"] == {} and row["status"] == "flagged"  # still flagged: a TA looked at it
    exported = csv_row(course, tmp_path)
    assert float(exported["total"]) == pytest.approx(row["total"])
    assert row["total"] == pytest.approx(sum(s or 0 for s, _ in row["scores"].values()) - row["late_penalty"])
    grade_again(course)
    assert outcome(course, STUDENT)["held"] == {}
    assert autograded(course, "batchnorm") == scores


def change_the_decision(course):
    """Accept, reject, a part score the TA sets in formgrader on the first held cell, accept:
    the batchnorm cells' scores after each reject and the last accept."""
    assert main(["--course", str(course.root), "review", STUDENT, "--accept"]) == 0
    assert main(["--course", str(course.root), "review", STUDENT, "--reject"]) == 0
    rejected = autograded(course, "batchnorm")
    set_by_ta(course, sorted(rejected)[0], 0.25)
    assert main(["--course", str(course.root), "review", STUDENT, "--accept"]) == 0
    return rejected, autograded(course, "batchnorm")


def history(course, capsys):
    """The states `nnlab review ID` lists, oldest first."""
    capsys.readouterr()
    assert main(["--course", str(course.root), "review", STUDENT]) == 0
    return [line.split()[2] for line in capsys.readouterr().out.splitlines() if line[:2] == "20"]


def test_a_decision_can_be_changed_and_a_tas_own_score_survives_it(course, capsys):
    """--reject after --accept voids the points; a score the TA set in formgrader (a part score
    after the reject) stays through every later decision; all in the history."""
    rejected, accepted = change_the_decision(course)
    assert all(score == 0 for score, _, _ in rejected.values())
    first, second = sorted(accepted)[:2]
    assert accepted[first][1] == 0.25 and accepted[second][1] is None and accepted[second][0] > 0
    assert history(course, capsys) == ["held", "accepted", "rejected", "accepted"]


def set_by_ta(course, cell, score):
    """A TA's score on a cell of STUDENT's batchnorm, as formgrader's grade API sets it, in a
    process that loaded the course's nbgrader_config.py (as formgrader's does)."""
    course.config()
    with Gradebook(course.db_url) as gradebook:
        submitted = gradebook.find_submission_notebook("batchnorm", course.assignment, STUDENT)
        grade = next(g for g in submitted.grades if g.name == cell)
        grade.manual_score, grade.needs_manual_grade = score, False
        gradebook.db.commit()


def test_a_tas_zero_entered_after_a_rejection_survives_accept(course):
    """A rejection sets the held cells to 0; the TA then enters 0 on one of them too: a later
    --accept gives every other cell its autograded score back, and leaves the TA's 0."""
    assert main(["--course", str(course.root), "review", STUDENT, "--reject"]) == 0
    cell = sorted(autograded(course, "batchnorm"))[0]
    assert autograded(course, "batchnorm")[cell][:2] == (0, 0)
    set_by_ta(course, cell, 0.0)
    assert main(["--course", str(course.root), "review", STUDENT, "--accept"]) == 0
    scores = autograded(course, "batchnorm")
    assert scores[cell][:2] == (0, 0)
    assert all(manual is None and score > 0 for name, (score, manual, _) in scores.items() if name != cell)


def test_a_tas_zero_on_a_held_cell_survives_accept(course):
    """The TA enters 0 on one held cell in formgrader, then accepts: that cell stays 0."""
    cell = sorted(autograded(course, "batchnorm"))[0]
    set_by_ta(course, cell, 0.0)
    pages = course.root / "feedback" / STUDENT / course.assignment
    assert generate_feedback(course, [STUDENT], out=lambda line: None) == [STUDENT]
    assert UNDER_REVIEW_TEXT in (pages / "batchnorm.html").read_text()  # withheld while held
    assert "batchnorm_forward" not in (pages / "batchnorm.html").read_text()
    assert UNDER_REVIEW_TEXT not in (pages / "regularization.html").read_text()
    assert main(["--course", str(course.root), "review", STUDENT, "--accept"]) == 0
    # the "under review" page is stale now: gone, so that release_feedback cannot send it
    assert sorted(page.name for page in pages.glob("*.html")) == ["regularization.html"]
    scores = autograded(course, "batchnorm")
    assert scores[cell][:2] == (0, 0)
    assert all(manual is None and score > 0 for name, (score, manual, _) in scores.items() if name != cell)
    generate_feedback(course, [STUDENT], out=lambda line: None)
    released = (pages / "batchnorm.html").read_text()
    assert UNDER_REVIEW_TEXT not in released and "batchnorm_forward" in released
    grade_class(course, students=[STUDENT], force=True, out=lambda line: None)
    assert list(pages.glob("*.html")) == []  # a new grading makes the feedback before it stale


def test_a_changed_submission_is_held_again_and_reject_voids_it(course, capsys):
    """A new submission voids the old decision; --reject keeps the autograded points at 0 (but
    where the TA set a score)."""
    change_the_decision(course)
    path = course.submission(STUDENT) / "batchnorm.ipynb"
    path.write_text(path.read_text().replace("print(inspect.signature", "print( inspect.signature"))
    grade_class(course, config=limits(SETTINGS), out=lambda line: None)
    assert set(outcome(course, STUDENT)["held"]) == {"batchnorm"}
    assert main(["--course", str(course.root), "review", STUDENT, "--reject"]) == 0
    row = outcome(course, STUDENT)
    assert row["held"] == {}
    scores = autograded(course, "batchnorm").values()
    assert sorted(manual for _, manual, _ in scores)[-1] == 0.25  # the TA's
    assert all(score == 0 for score, manual, _ in scores if manual != 0.25)
    assert history(course, capsys) == ["held", "accepted", "rejected", "accepted", "held", "rejected"]


def test_a_grading_without_the_courses_steps_is_said_so(course):
    """nbgrader's Autograde with its default steps (another configuration): the outcome says the
    notebooks ran unconfined and unchecked, and never claims the sandbox."""
    course.plain_autograde(STUDENT, Config({"Execute": {"timeout": SETTINGS["cell_timeout"]}}))
    row = outcome(course, STUDENT)
    assert row["status"] == "flagged" and row["sandbox"] is False
    assert sum("graded without the course's grading steps" in reason for reason in row["reasons"]) == 2


def test_a_submission_without_a_known_time_is_reported(course):
    """No timestamp.txt (an LMS download without times): the late policy could not be applied,
    and the student's reasons say so."""
    (course.submission(STUDENT) / "timestamp.txt").unlink()
    reasons = outcome(course, STUDENT)["reasons"]
    assert "no submission time (no timestamp.txt): the late policy could not be applied" in reasons


@pytest.mark.parametrize("seconds, words", [(12, "12 s"), (59, "59 s"), (61, "1 min 1 s"), (3600, "1 h 0 min"),
                                             (27660, "7 h 41 min"), (90061, "1 d 1 h"), (0, "0 s")])
def test_lateness_is_said_in_its_two_largest_units(seconds, words):
    """Not "0 h 0 min" for a submission a few seconds late."""
    assert duration(seconds) == words
