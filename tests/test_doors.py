"""Every nbgrader door is as safe as `nnlab grade`: formgrader's buttons through its HTTP API,
nbgrader's exchange as a second, ordinary user, `nbgrader validate` as a student runs it, and
formgrader's pages as headless Chromium renders them.

One course copy for the whole module; each student is graded once:
- "hostile" (patches the checks while a test runs) by formgrader's Autograde button;
- "late" (submitted 1 d 9 h late) by `nnlab grade`, before the exchange is set up;
- a second Unix user, who fetches and submits through the exchange, by `nnlab grade` after it.
"""
import ast
import json
import math
import os
import pwd
import re
import secrets
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from dateutil import parser as date_parser
from nbgrader.api import Gradebook

from nnlab.grading.batch import grade_class
from nnlab.authoring.demo import DEMO, earned, manifest
from nnlab.results.export import write_csv
from nnlab.authoring.fill import fill
from nnlab.notebooks import cell_sources, graded_functions
from nnlab.grading.ledger import course_key
from nnlab.grading.outcome import outcome
from nnlab.steps.autograde import SURVEY_RECORD, read_survey, records_folder
from nnlab.steps.intake import survey, survey_key
from nnlab.authoring import damage
from nnlab.cli import main
from nnlab.course import Course

from conftest import (BIN, nbgrader_command, REPO, TESTS_AND_MARK_SCHEMES, Formgrader, chromium_dom, copy_course, in_a_browser, released_copy,
                      files_under, fill_solutions, nbgrader, page_text, secret_lines, squeeze, stamp_on_time)
from test_review import LOOK, UNDER_REVIEW_TEXT as UNDER_REVIEW

SETTINGS, STUDENTS = manifest()
DEMO_STUDENTS = {s["id"]: s for s in STUDENTS}
HOSTILE = "hostile"
HOSTILE_FILES = ["regularization/classic.py", "batchnorm/classic.py", "hostile/patch_checks_in_call.py"]
LATE = "late"
NETWORK = "hostile_network"  # flagged by the code scan, its points counted


# ------------------------------------------------------------------------------ helpers

def leaks(paths, secret):
    """(file, line) for each secret line in the text of these files, whitespace ignored."""
    found = []
    for path in paths:
        text = squeeze(page_text(path.read_text(errors="replace")))
        found += [(str(path), line) for line in secret if line in text]
        found += [(str(path), marker) for marker in ("HIDDENTESTS", "MARKSCHEME") if marker in text]
    return found


# ------------------------------------------------------------------------------ the course

@pytest.fixture(scope="module")
def course(built_course, tmp_path_factory):
    """A released course copy, the late and hostile submissions, and "late" graded by `nnlab grade`."""
    course = released_copy(built_course, tmp_path_factory.mktemp("doors"))
    late = DEMO_STUDENTS["late"]
    fill(course, late["files"], LATE, date_parser.parse(late["submitted"]))
    fill(course, [DEMO / "students" / f for f in DEMO_STUDENTS[NETWORK]["files"]], NETWORK,
         date_parser.parse(SETTINGS["submitted"]))
    fill(course, [DEMO / "students" / f for f in HOSTILE_FILES], HOSTILE,
         date_parser.parse(SETTINGS["submitted"]))
    # the course's own limits, as the other doors use (the demo's 30 s per cell is too tight for
    # the training cells of a correct notebook on a busy host)
    graded = grade_class(course, [LATE, NETWORK], out=lambda line: None)
    assert graded[LATE]["status"] == "late" and graded[NETWORK]["status"] == "flagged", graded
    course.key_before_exchange = course_key(course)
    course.before = files_under(course.folder("source"))
    return course


# ------------------------------------------------------------------------------ formgrader

@pytest.fixture(scope="module")
def formgrader(course, tmp_path_factory):
    server = Formgrader(course, tmp_path_factory.mktemp("formgrader"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile_autograded(course, formgrader):
    """The hostile submission graded by formgrader's per-student Autograde button."""
    gradebook_before = (course.root / "gradebook.db").stat().st_size
    result = formgrader.call("POST", f"/formgrader/api/submission/{course.assignment}/{HOSTILE}/autograde")
    return result, gradebook_before


def test_formgrader_autograde_button_grades_sandboxed_with_the_course_steps(course, hostile_autograded):
    """The Autograde button on hostile code: flagged, points held, sandboxed, records written."""
    result, _ = hostile_autograded
    assert result["success"], result.get("error") or result.get("log")
    row = outcome(course, HOSTILE)
    assert row["status"] == "flagged", row
    assert "batchnorm" in row["held"], row["held"]
    assert row["sandbox"] is True
    assert any("calls setattr() (patching)" in reason for reason in row["reasons"]), row["reasons"]
    folder = records_folder(course.root, HOSTILE)
    assert sorted(p.name for p in folder.glob("*.json")) == [SURVEY_RECORD, "batchnorm.json", "regularization.json"]
    assert all(json.loads((folder / name).read_text())["sandbox"] for name in ("batchnorm.json", "regularization.json"))
    # the survey of the submission folder, recorded by the door's grading for the views to read
    release, submission = course.folder("release"), course.submission(HOSTILE)
    assert read_survey(course.root, HOSTILE, survey_key(release, submission), submission) == (survey(release, submission), True)
    with Gradebook(course.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook("batchnorm", course.assignment, HOSTILE)
        assert notebook.flagged is True
        held_cells = [g for g in notebook.grades if g.cell_type == "code"]
        assert held_cells and all(g.needs_manual_grade and g.manual_score == 0 for g in held_cells)


def test_formgrader_lists_the_hostile_notebook_as_flagged(course, formgrader, hostile_autograded):
    """formgrader's own listing of the notebook's submissions shows the flag."""
    listed = {s["student"]: s for s in formgrader.call(
        "GET", f"/formgrader/api/submitted_notebooks/{course.assignment}/batchnorm")}
    assert listed[HOSTILE]["flagged"] is True
    assert listed[LATE]["flagged"] is False


def test_formgrader_autograde_leaves_source_and_gradebook_intact(course, formgrader, hostile_autograded):
    """source/ is byte for byte as before, and the gradebook still answers for every student."""
    assert files_under(course.folder("source")) == course.before
    with sqlite3.connect(course.root / "gradebook.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with Gradebook(course.db_url) as gradebook:
        submissions = gradebook.find_assignment(course.assignment).submissions
        assert {s.student.id for s in submissions} >= {HOSTILE, LATE}
    assert formgrader.call("GET", f"/formgrader/api/submission/{course.assignment}/{LATE}")["student"] == LATE


def test_manual_score_on_a_late_written_answer_recomputes_the_penalty(course, formgrader):
    """A written answer graded in formgrader: the late penalty and the CSV follow the new total."""
    with Gradebook(course.db_url) as gradebook:
        submission = gradebook.find_submission(course.assignment, LATE)
        seconds = submission.total_seconds_late
        notebook = next(n for n in submission.notebooks
                        if any(g.cell_type != "code" and g.max_score for g in n.grades))
        notebook_id, name = notebook.id, notebook.name
        score_before, penalty_before = notebook.score, notebook.late_submission_penalty
    days = math.ceil(seconds / 86400)
    assert days == 2  # 2026-12-06 09:30 against 2026-12-04 23:59
    assert penalty_before == pytest.approx(0.1 * days * score_before)

    grades = formgrader.call("GET", f"/formgrader/api/grades?submission_id={notebook_id}")
    written = next(g for g in grades if g["auto_score"] is None and g["max_score"] > 0)
    assert written["manual_score"] is None
    formgrader.call("PUT", f"/formgrader/api/grade/{written['id']}",
                    {"manual_score": written["max_score"], "extra_credit": None})

    with Gradebook(course.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(name, course.assignment, LATE)
        assert notebook.score == pytest.approx(score_before + written["max_score"])
        assert notebook.late_submission_penalty == pytest.approx(0.1 * days * notebook.score)
        assert notebook.late_submission_penalty > penalty_before
        submission = gradebook.find_submission(course.assignment, LATE)
        total = submission.score - submission.late_submission_penalty
    rows = {row["student"]: row for row in write_csv(course, course.root / "grades.csv")}
    assert rows[LATE]["total"] == pytest.approx(total)
    with open(course.root / "grades.csv") as handle:
        line = next(line for line in handle if line.startswith(f"{LATE},"))
    assert line.split(",")[2] == f"{total:g}"


def test_a_course_run_from_formgrader_alone_charges_the_late_policy(built_course, tmp_path):
    """No nnlab command ever ran, so nothing stored the due date: formgrader's Autograde button
    charges the late student what `nnlab grade` charges (the demo manifest's penalty)."""
    (tmp_path / "course").mkdir()
    (tmp_path / "formgrader").mkdir()
    course = released_copy(built_course, tmp_path / "course")
    with Gradebook(course.db_url) as gradebook:
        assert gradebook.find_assignment(course.assignment).duedate is None
    late = DEMO_STUDENTS[LATE]
    fill(course, late["files"], LATE, date_parser.parse(late["submitted"]))
    server = Formgrader(course, tmp_path / "formgrader")
    try:
        result = server.call("POST", f"/formgrader/api/submission/{course.assignment}/{LATE}/autograde")
    finally:
        server.stop()
    assert result["success"], result.get("error") or result.get("log")
    row = outcome(course, LATE)
    assert row["status"] == "late" and row["late_penalty"] == pytest.approx(late["late_penalty"]), row


# ------------------------------------------------------------------------------ the exchange

class Student:
    """An ordinary Unix user with a home and a working folder of their own."""

    def __init__(self):
        self.name = f"nnlab{secrets.token_hex(4)}"
        self.home = Path(tempfile.mkdtemp(prefix="nnlab-student-home-"))
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(self.home),
                        "--shell", "/usr/sbin/nologin", self.name], check=True, capture_output=True)
        self.work = self.home / "work"
        self.work.mkdir()
        self.chown()
        self.bin = None

    def chown(self):
        entry = pwd.getpwnam(self.name)
        for path in (self.home, *self.home.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def run(self, *args):
        """`nbgrader ARGS` as this user, in their working folder; returns its output."""
        result = subprocess.run(
            ["runuser", "-u", self.name, "--", "env", "-i", f"HOME={self.home}", "LANG=C.UTF-8",
             f"PATH={self.bin}:/usr/bin:/bin", str(self.bin / "nbgrader"), *args],
            cwd=self.work, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"nbgrader {' '.join(args)} as {self.name} failed:\n" \
                                       f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        return result.stdout + result.stderr

    def remove(self):
        subprocess.run(["userdel", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def exchange(course):
    """A world-writable, sticky exchange root, added to nbgrader_config.py after grading."""
    root = Path(tempfile.mkdtemp(prefix="nnlab-exchange-"))
    os.chmod(root, 0o1777)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"\n# the exchange, set up after grading\nc.Exchange.root = {str(root)!r}\n")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def student(as_root, course, exchange, ta_python):
    """A second user who fetches the assignment, puts the solutions in, and submits."""
    user = Student()
    try:
        user.bin = Path(ta_python).parent  # a Python every user can run (see conftest)
        course_id = course.config().CourseDirectory.course_id
        (user.work / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n")
        user.chown()
        nbgrader(course, "release_assignment", course.assignment, "--force")
        user.run("fetch_assignment", course.assignment)
        fill_solutions(user.work / course.assignment, course)
        user.chown()
        user.run("submit", course.assignment)
        nbgrader(course, "collect", course.assignment)
        # the demo's due date is fixed and the clock goes on: the submission is dated as the
        # demo's on-time students are, so that it stays on time whenever the tests run
        stamp_on_time(course.submission(user.name))
        user.graded = grade_class(course, [LATE, user.name], out=lambda line: None)
        yield user
    finally:
        user.remove()


def test_a_term_through_formgrader_alone_from_a_fresh_copy(as_root, tmp_path, ta_python):
    """The README's walkthrough for a TA who only uses formgrader's buttons, from a fresh copy of
    the course (no gradebook yet): Generate, Release; a student fetches and submits after the due
    date, with a look into the interpreter that holds batchnorm's points; Collect, Autograde: the
    late policy is charged. Feedback fetched through the exchange says the held notebook is under
    review; the TA's 0 on one held cell, entered in formgrader, stands through `nnlab review
    --accept`, after which Generate and Release feedback again give the notebook's page."""
    (tmp_path / "course").mkdir()
    (tmp_path / "formgrader").mkdir()
    course = copy_course(tmp_path / "course")
    exchange = Path(tempfile.mkdtemp(prefix="nnlab-exchange-"))
    os.chmod(exchange, 0o1777)
    with open(course.root / "nbgrader_config.py", "a") as config:  # the instructor's two edits
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\nc.Deadline.due = '2026-12-01 00:00:00 UTC'\n")
    server, user = Formgrader(course, tmp_path / "formgrader"), Student()
    try:
        def click(path):
            result = server.call("POST", f"/formgrader/api/{path}")
            assert result["success"], result.get("error") or result.get("log")

        click(f"assignment/{course.assignment}/assign")  # Generate
        click(f"assignment/{course.assignment}/release")
        user.bin = Path(ta_python).parent
        (user.work / "nbgrader_config.py").write_text(  # the student's config, as the README gives it
            readme_block("**For students.**", "python").replace("/srv/nbgrader/exchange", str(exchange)))
        user.chown()
        user.run("fetch_assignment", course.assignment)
        fill_solutions(user.work / course.assignment, course)
        damage.insert_cell(user.work / course.assignment, "batchnorm", "batchnorm_forward", LOOK)
        user.chown()
        user.run("submit", course.assignment)
        click(f"assignment/{course.assignment}/collect")
        click(f"submission/{course.assignment}/{user.name}/autograde")
        row = outcome(course, user.name)
        assert set(row["held"]) == {"batchnorm"} and row["late_penalty"] > 0, row

        def fetched_pages():
            click(f"assignment/{course.assignment}/{user.name}/generate_feedback")
            click(f"assignment/{course.assignment}/{user.name}/release_feedback")
            return {page.name: page.read_text() for page in _fetch_feedback(course, user)}

        before = fetched_pages()
        assert UNDER_REVIEW in before["batchnorm.html"] and "batchnorm_forward" not in before["batchnorm.html"]
        assert UNDER_REVIEW not in before["regularization.html"]
        with Gradebook(course.db_url) as gradebook:
            notebook_id = gradebook.find_submission_notebook("batchnorm", course.assignment, user.name).id
        held_cell = next(g for g in server.call("GET", f"/formgrader/api/grades?submission_id={notebook_id}")
                         if g["auto_score"])
        server.call("PUT", f"/formgrader/api/grade/{held_cell['id']}", {"manual_score": 0, "extra_credit": None})
        assert main(["--course", str(course.root), "review", user.name, "--accept"]) == 0
        scores = outcome(course, user.name)["scores"]
        assert scores[held_cell["name"]][0] == 0  # the TA's 0 stands
        assert sum(score for name, (score, _) in scores.items() if name.startswith("batchnorm_")) > 10
        after = fetched_pages()
        assert UNDER_REVIEW not in after["batchnorm.html"] and "Hidden test passed." in after["batchnorm.html"]
    finally:
        server.stop()
        user.remove()
        shutil.rmtree(exchange, ignore_errors=True)


def readme_block(heading, language):
    """The first ```language block after `heading` in the README."""
    text = (REPO / "README.md").read_text()
    return re.search(re.escape(heading) + r".*?```" + language + r"\n(.*?)```", text, re.S).group(1)


def readme_term():
    """The README's command-line term, [(who, command)]: who is "TA" or "student", as the comment
    above says; a command None is work done by hand (a comment ending in ", then")."""
    steps, who = [], None
    for line in readme_block("**The term by the command line**", "sh").splitlines():
        if line.startswith("# "):
            who = re.match(r"# (\w+)", line).group(1)
            if line.endswith(", then"):
                steps.append((who, None))
        elif line.strip():
            steps.append((who, line.strip()))
    return steps


# A first submission's mistake, corrected before the due date.
WRONG_L2_COST = "def compute_cost_with_regularization(A3, Y, parameters, lambd):\n    return 0.0"


def test_the_readmes_command_line_term_from_a_fresh_copy(as_root, tmp_path, ta_python):
    """The README's term by the command line, run as written from a fresh copy of the course: the
    student (a second user, with the README's config) submits a wrong L2 cost and a look into the
    interpreter that holds batchnorm's points, then a correction; `collect --update` and `nnlab
    grade` take the resubmission; held, the notebook's feedback (by `nbgrader generate_feedback`
    too) is withheld until `nnlab review --accept`; the fetched feedback then shows it in full.
    Validate prints no kernel warning."""
    (tmp_path / "course").mkdir()
    course = copy_course(tmp_path / "course")
    exchange = Path(tempfile.mkdtemp(prefix="nnlab-exchange-"))
    os.chmod(exchange, 0o1777)
    with open(course.root / "nbgrader_config.py", "a") as config:  # the instructor's edits
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\nc.Deadline.due = '2099-01-01 00:00:00 UTC'\n")
    user = Student()
    user.bin = Path(ta_python).parent
    (user.work / "nbgrader_config.py").write_text(
        readme_block("**For students.**", "python").replace("/srv/nbgrader/exchange", str(exchange)))
    user.chown()
    folder, done = user.work / course.assignment, Counter()
    try:
        for who, command in readme_term():
            if who == "student" and command is None:  # the student's own work
                fill_solutions(folder, course)
                if not done["hand"]:
                    damage.edit_cell(folder, "regularization", "compute_cost_with_regularization", WRONG_L2_COST)
                    damage.insert_cell(folder, "batchnorm", "batchnorm_forward", LOOK)
                user.chown()
                done["hand"] += 1
                continue
            if who == "student":
                output = user.run(*shlex.split(command)[1:])
                assert "without encryption" not in output, output[-2000:]
                continue
            words = [user.name if word == "ID" else word for word in shlex.split(command)]
            ran = subprocess.run([str(BIN / words[0]), *words[1:]], cwd=course.root, capture_output=True, text=True)
            assert ran.returncode == 0, f"{command}:\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}"
            done[command] += 1
            if command == "nnlab grade":
                row = outcome(course, user.name)
                assert set(row["held"]) == {"batchnorm"} and row["status"] == "flagged", row
                assert (row["scores"]["l2_cost_value"][0] == 0) == (done[command] == 1), row["scores"]
                if done[command] == 2:  # nbgrader's own feedback door withholds it too
                    nbgrader(course, "generate_feedback", course.assignment, "--student", user.name)
                    page = (course.root / "feedback" / user.name / course.assignment / "batchnorm.html").read_text()
                    assert UNDER_REVIEW in page and "batchnorm_forward" not in page
        assert done["nbgrader collect --update nn_training"] == 1 and done["hand"] == 2
        pages = {page.name: page_text(page.read_text()) for page in folder.glob("feedback/*/*.html")}
        assert sorted(pages) == ["batchnorm.html", "regularization.html"]
        assert all(UNDER_REVIEW not in text and "Hidden test passed." in text for text in pages.values())
        row = outcome(course, user.name)
        assert row["held"] == {} and all(score == top for score, top in row["scores"].values() if score is not None)
    finally:
        user.remove()
        shutil.rmtree(exchange, ignore_errors=True)


def test_exchange_setup_does_not_regrade_the_class(course, student, tmp_path):
    """c.Exchange.root keeps the course key (nothing regraded); c.Execute.timeout changes it (in
    a copy of the course's source, release and configuration, so that the course itself stays as
    it is)."""
    assert course_key(course) == course.key_before_exchange
    assert set(student.graded) == {student.name}  # "late" was left as graded before
    for folder in ("source", "release"):
        shutil.copytree(course.root / folder, tmp_path / folder)
    config = (course.root / "nbgrader_config.py").read_text()
    (tmp_path / "nbgrader_config.py").write_text(config)
    assert course_key(Course(tmp_path)) == course.key_before_exchange
    (tmp_path / "nbgrader_config.py").write_text(config + "\nc.Execute.timeout = 181\n")
    assert course_key(Course(tmp_path)) != course.key_before_exchange


def test_exchange_student_is_graded_in_full_without_a_warning(course, student):
    """The collected submission (timestamp and secret included) grades ok, full marks."""
    folder = course.submission(student.name)
    assert (folder / "submission_secret.txt").is_file() and (folder / "timestamp.txt").is_file()
    row = outcome(course, student.name)
    assert row["status"] == "ok", row["reasons"]
    assert not any("submission_secret" in reason for reason in row["reasons"])
    assert row["sandbox"] is True
    assert all(score == top for score, top in row["scores"].values() if score is not None)


def _fetch_feedback(course, student):
    """`nbgrader fetch_feedback` as the student; returns the HTML files they got."""
    shutil.rmtree(student.work / course.assignment / "feedback", ignore_errors=True)
    student.run("fetch_feedback", course.assignment)
    return sorted((student.work / course.assignment / "feedback").rglob("*.html"))


def test_feedback_by_the_command_line_keeps_hidden_tests_out(course, student, exchange):
    """generate_feedback, release_feedback, fetch_feedback: no hidden-test or mark-scheme line."""
    nbgrader(course, "generate_feedback", course.assignment, "--student", student.name, "--force")
    nbgrader(course, "release_feedback", course.assignment, "--student", student.name)
    fetched = _fetch_feedback(course, student)
    assert sorted(p.name for p in fetched) == ["batchnorm.html", "regularization.html"]
    assert "Hidden test passed." in page_text(fetched[0].read_text())
    secret = secret_lines(course, TESTS_AND_MARK_SCHEMES, squeezed=True)
    assert len(secret) > 30  # the check has something to look for
    released = sorted((exchange / course.config().CourseDirectory.course_id / "feedback").glob("*.html"))
    assert len(released) == 2
    own = sorted((course.root / "feedback" / student.name).rglob("*.html"))
    assert leaks(fetched + released + own, secret) == []
    # the check finds what it looks for: the autograded notebooks hold the hidden tests
    assert leaks(sorted((course.root / "autograded" / student.name).rglob("*.ipynb")), secret)


def test_feedback_by_formgrader_buttons_keeps_hidden_tests_out(course, formgrader, student, exchange):
    """formgrader's Generate feedback and Release feedback buttons, then fetch_feedback."""
    for action in ("generate_feedback", "release_feedback"):
        result = formgrader.call("POST", f"/formgrader/api/assignment/{course.assignment}/"
                                         f"{student.name}/{action}")
        assert result["success"], result.get("error") or result.get("log")
    fetched = _fetch_feedback(course, student)
    assert sorted(p.name for p in fetched) == ["batchnorm.html", "regularization.html"]
    feedback = sorted((course.root / "feedback").rglob("*.html"))
    released = sorted((exchange / course.config().CourseDirectory.course_id / "feedback").glob("*.html"))
    assert {p.parent.parent.name for p in feedback} >= {student.name}
    assert leaks(fetched + released + feedback, secret_lines(course, TESTS_AND_MARK_SCHEMES, squeezed=True)) == []


# ------------------------------------------------------------------------------ nbgrader validate

@pytest.fixture(scope="module")
def validated(course, tmp_path_factory):
    """`nbgrader validate` output on the release, the solution and a ddof=1 forward (batchnorm)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    bug = {}
    for path in (DEMO / "students/batchnorm/classic.py", DEMO / "students/batchnorm/bugs/variance_ddof1.py"):
        bug.update(cell_sources(path.read_text())[0])
    running = {}
    for case in ("release", "correct", "buggy"):  # at once: each is mostly waiting on its kernel
        folder = tmp_path_factory.mktemp(f"validate-{case}") / course.assignment
        shutil.copytree(course.folder("release"), folder)
        if case == "correct":
            fill_solutions(folder, course)
        elif case == "buggy":
            notebook = nbformat.read(folder / "batchnorm.ipynb", as_version=4)
            for name, cell in graded_functions(notebook).items():
                cell.source = bug[name]
            nbformat.write(notebook, folder / "batchnorm.ipynb")
        log = open(folder.parent / "validate.log", "w+")
        running[case] = (log, subprocess.Popen([str(BIN / "nbgrader"), "validate", "batchnorm.ipynb"],
                                               cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT))
    outputs = {}
    for case, (log, process) in running.items():
        process.wait(timeout=900)
        log.seek(0)
        outputs[case] = log.read()
        log.close()
        assert process.returncode == 0, outputs[case][-3000:]  # validate exits 0 even on failures
    return outputs


def _hints(course, grade_id):
    """The hint strings of a test cell's checks, as written in the source notebook."""
    path = course.folder("source") / "batchnorm.ipynb"
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    code = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    return [k.value.value for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
            for k in node.keywords if k.arg == "hint" and isinstance(k.value, ast.Constant)]


def test_validate_untouched_release_says_what_is_not_done(validated):
    """The release fails where graded functions are called, with NotImplementedError."""
    out = validated["release"]
    assert re.search(r"VALIDATION FAILED ON \d+ CELL\(S\)", out), out[-3000:]
    assert "NotImplementedError" in out


def test_validate_correct_answer_passes(validated):
    out = validated["correct"]
    assert "Success! Your notebook passes all the tests." in out, out[-3000:]
    assert "VALIDATION FAILED" not in out


def test_validate_buggy_answer_shows_the_failed_check(validated):
    """A ddof=1 variance fails the train-mode test, whose message names what is wrong."""
    out = validated["buggy"]
    assert re.search(r"VALIDATION FAILED ON \d+ CELL\(S\)", out), out[-3000:]
    assert "the standard deviations of out is wrong" in out


def test_validate_output_is_clean_and_hints_are_whole(course, validated):
    """No float-conversion warning, no message or hint line cut with "...", the failed check's
    hint in full (validate cuts long lines of code too, which the student has in front of them)."""
    for case, out in validated.items():
        assert "cannot be converted to" not in out, case
        cut = [line for line in out.splitlines() if line.rstrip().endswith("...")
               and re.match(r"\s*(\w+Error: |Hint: )", line)]
        assert cut == [], (case, cut[:5])
    hints = _hints(course, "batchnorm_forward_train")
    assert hints
    shown = squeeze(validated["buggy"])
    assert any(squeeze(f"Hint: {hint}") in shown for hint in hints), hints


# ------------------------------------------------------------------------------ Chromium

def table_rows(dom):
    """{student id: the HTML of their row} of a formgrader submissions table."""
    rows = re.findall(r"<tr[^>]*>.*?</tr>", dom, flags=re.S)
    return {m.group(1): row for row in rows
            for m in [re.search(r'class="name-shown"[^>]*>([^<]+)</a>', row)] if m}


@in_a_browser
def test_formgrader_pages_show_the_flagged_submission_in_a_browser(course, formgrader, hostile_autograded,
                                                                   tmp_path):
    """Headless Chromium: the grading page shows why the points are held, the list the flag."""
    profile = tmp_path / "profile"
    # log in as a TA does, by opening the server with its token: formgrader's own pages opened with
    # ?token= set the login cookie for their own folder only, and their API calls are then refused
    assert '"started"' in chromium_dom(f"{formgrader.url}/api/status?token={formgrader.token}", profile)
    with Gradebook(course.db_url) as gradebook:
        notebook_id = gradebook.find_submission_notebook("batchnorm", course.assignment, HOSTILE).id
    text = page_text(chromium_dom(f"{formgrader.url}/formgrader/submissions/{notebook_id}/"
                                  f"?token={formgrader.token}", profile))
    assert "batchnorm_backward_alt" in text  # the notebook is rendered
    assert "np.allclose = lambda" in text  # the student's own code, for the TA to see
    assert "calls setattr() (patching)" in text  # the scan's reason for holding it
    assert "Points held for review" in text  # the grader's note at the top, for the TA
    rows = table_rows(chromium_dom(f"{formgrader.url}/formgrader/gradebook/{course.assignment}/batchnorm/",
                                   profile))
    assert {HOSTILE, LATE} <= set(rows), rows.keys()
    flagged = {student for student, row in rows.items()
               if re.search(r'class="[^"]*\bflagged\b[^"]*"[^>]*><span class="glyphicon glyphicon-flag"', row)}
    assert flagged == {HOSTILE}
    assert re.search(r'class="text-center score"[^>]*>0 / ', rows[HOSTILE])
    assert re.search(r'needs-manual-grade"[^>]*><span class="glyphicon glyphicon-ok"', rows[HOSTILE])


@in_a_browser
def test_formgrader_pages_say_why_a_notebook_is_flagged_and_what_the_late_penalty_is(course, formgrader, tmp_path):
    """Headless Chromium: a notebook flagged without held points shows the scan's reason; a late
    one, the penalty formgrader's totals leave out."""
    profile = tmp_path / "profile"
    assert '"started"' in chromium_dom(f"{formgrader.url}/api/status?token={formgrader.token}", profile)

    def page(student):
        with Gradebook(course.db_url) as gradebook:
            notebook_id = gradebook.find_submission_notebook("regularization", course.assignment, student).id
        return page_text(chromium_dom(f"{formgrader.url}/formgrader/submissions/{notebook_id}/", profile))

    flagged = page(NETWORK)
    assert "Flagged by the code scan (the points count as earned)" in flagged
    assert "imports socket (network access)" in flagged and "Points held" not in flagged
    late = page(LATE)
    assert re.search(r"Late: a penalty of [\d.]+ points when autograded", late)
    assert "formgrader's totals do not subtract" in late


PLOTTED = "plotted"


def test_the_ta_sees_the_students_own_experiment_plots_marked_as_not_run_again(course, formgrader):
    """A submission of the executed master notebooks (plots in its experiment cells), graded by
    formgrader's Autograde button on the graded path: formgrader's page of each notebook, where the
    TA grades the written answers, shows each experiment's plot under the line saying it is the
    student's own output, not run again."""
    folder = course.submission(PLOTTED)
    shutil.copytree(course.folder("release"), folder)
    for path in course.notebooks("solutions"):
        shutil.copy2(path, folder / path.name)
    stamp_on_time(folder)
    result = formgrader.call("POST", f"/formgrader/api/submission/{course.assignment}/{PLOTTED}/autograde")
    assert result["success"], result
    marker = "was not run again at grading"
    # part 1: the data, each training's figures, the comparison; part 2: the timing (text), the
    # training curves, the sweeps
    plotted = {"regularization": [True] * 5, "batchnorm": [False, True, True]}
    for name, plots in plotted.items():
        with Gradebook(course.db_url) as gradebook:
            notebook_id = gradebook.find_submission_notebook(name, course.assignment, PLOTTED).id
        page = formgrader.page(f"/formgrader/submissions/{notebook_id}/")
        kept = page.split(marker)[1:]  # each up to the next marker (or the end)
        assert ["data:image/png;base64," in part for part in kept] == plots, name
        assert "Written questions" in page, name


# ------------------------------------------------------------------------------ attacks, every door

ATTACKERS = [s for s in STUDENTS if s["id"].startswith("attack_")]


@pytest.mark.parametrize("attacker", ATTACKERS, ids=lambda s: s["id"])
def test_an_attack_earns_nothing_through_nbgrader_autograde_or_formgrader(course, formgrader, attacker):
    """The demo's attacks, graded by `nbgrader autograde --student` and by formgrader's Autograde
    button: every test cell scores nothing (even what accepting a held notebook would count), as
    for the blank submission, and no hidden-test line reaches the autograded notebooks' outputs."""
    student = attacker["id"]
    fill(course, attacker["files"], student, date_parser.parse(SETTINGS["submitted"]))
    secret = secret_lines(course, TESTS_AND_MARK_SCHEMES, squeezed=True)
    for door in ("nbgrader", "formgrader"):
        if door == "nbgrader":
            graded = nbgrader_command(course, "autograde", course.assignment, "--student", student, "--force")
            assert graded.returncode == 0, graded.stderr[-2000:]
        else:
            result = formgrader.call("POST", f"/formgrader/api/submission/{course.assignment}/{student}/autograde")
            assert result["success"], result.get("error") or result.get("log")
        row = outcome(course, student)
        assert row["scores"], (door, row)
        autograded = [cell for cell, (score, _) in row["scores"].items() if score is not None]
        assert autograded and {cell: earned(row, cell) for cell in autograded} == dict.fromkeys(autograded, 0), door
        shown = squeeze("".join(
            out.get("text", "") + out.get("evalue", "") + "".join(out.get("traceback", []))
            + out.get("data", {}).get("text/plain", "")
            for path in sorted((course.root / "autograded" / student).rglob("*.ipynb"))
            for cell in nbformat.read(path, as_version=4).cells for out in cell.get("outputs", [])))
        assert not [line for line in secret if line in shown], door
