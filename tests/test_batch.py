"""The batch grader around the demo class: CSV export, report, feedback that keeps hidden tests
hidden (checked in a real browser), regrading only what changed, clear errors, and Ctrl-C."""
import base64
import csv
import html
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.image
import nbformat
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from nnlab.cli import main
from nnlab.grading import ledger
from nnlab.grading.batch import grade_class
from nnlab.grading.ledger import course_key
from nnlab.course import Course, CourseError
from nnlab.authoring.demo import manifest
from nnlab.results.export import graded_cells, write_csv
from nnlab.grading.outcome import OLDER, outcome
from nnlab.steps.autograde import read_record, write_record
from nnlab.steps import feedback
from nnlab.results.feedback import generate_feedback
from nnlab.results.report import pass_rates, write_report
from nnlab.confinement.sandbox import UID_BASE, processes_of

from conftest import (CHROMIUM, REPO, TESTS_AND_MARK_SCHEMES, chromium_dom, copy_course, fill_on_time, in_a_browser, page_text,
                      released_copy, secret_lines, shown_secrets, sigint_by_default, squeeze)

SETTINGS, STUDENTS = manifest()
EXPECTED = {s["id"]: s for s in STUDENTS}


def test_csv_has_a_row_per_student_with_status_penalty_and_every_cell(built_course, graded_class, tmp_path):
    """grades.csv agrees with the gradebook and the manifest, cell by cell."""
    write_csv(built_course, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv") as handle:
        rows = {r["student"]: r for r in csv.DictReader(handle)}
    assert set(rows) == set(EXPECTED) | {"solution"}
    for student, row in rows.items():
        graded = graded_class[student]
        assert row["status"] == graded["status"] == EXPECTED.get(student, {"status": "ok"})["status"]
        assert float(row["late_penalty"]) == pytest.approx(EXPECTED.get(student, {}).get("late_penalty", 0))
        held = {cell for cell, notebook in graded_cells(built_course, tests_only=True).items()
                if notebook in graded["held"]}
        for cell, (score, _) in graded["scores"].items():
            assert row[cell] == ("held" if cell in held else "" if score is None else f"{score:g}")
        if held:  # points held for review are never exported as a number
            assert row["total"] == "held"
        else:
            assert float(row["total"]) == pytest.approx(
                sum(s or 0 for s, _ in graded["scores"].values()) - float(row["late_penalty"]))


def test_report_shows_the_class_and_every_submission_that_needs_a_look(built_course, graded_class):
    page = write_report(built_course)
    text = page.read_text()
    for plot in ("scores.png", "cells.png"):
        image = matplotlib.image.imread(page.parent / plot)
        assert image.shape[0] > 200 and image.std() > 0  # a real, non-blank picture
        assert f'src="{plot}"' in text
    for student in STUDENTS:
        if student["status"] in ("incomplete", "failed", "warning"):
            row = text[text.index(f"<td>{student['id']}</td>"):]
            assert student["status"] in row[:200]
    assert "ignored the timeout interrupt" in text


def test_pass_rates_leave_out_held_notebooks():
    """A held cell's 0 is no verdict: the student counts for the other notebook's cells only; a
    cell only held notebooks have has no rate."""
    rows = [{"scores": {"l2": [3, 3], "bn": [0, 6]}, "held": {}},
            {"scores": {"l2": [0, 3], "bn": [6, 6]}, "held": {"regularization": ["tampering"]}}]
    cells = {"l2": "regularization", "bn": "batchnorm"}
    assert pass_rates(rows, cells) == ({"l2": 1.0, "bn": 0.5}, 1)
    assert pass_rates(rows[1:], cells) == ({"bn": 1.0}, 1)


def test_feedback_hides_hidden_tests_and_shows_their_message(built_course, graded_class):
    """A student with a bug in the L2 cost fails hidden tests: the feedback says so, with the
    test's message, but shows no line of any hidden test or solution."""
    student = "bug_l2_cost_mean_and_alt_cache_order"
    assert generate_feedback(built_course, [student], out=lambda line: None) == [student]
    html = (built_course.root / "feedback" / student / built_course.assignment / "regularization.html").read_text()
    assert not _leaks(built_course, student, html)
    assert "hidden test are not shown" in html
    assert "BEGIN HIDDEN TESTS" not in html


def test_the_tas_note_is_in_the_autograded_notebook_and_not_in_feedback(built_course, graded_class):
    """Formgrader shows the autograded notebook: its first cell says why it is flagged and the late
    penalty formgrader's totals leave out; the students' feedback has no such cell."""
    def first_cells(student):
        folder = built_course.root / "autograded" / student / built_course.assignment
        return " ".join(nbformat.read(path, as_version=4).cells[0].source for path in sorted(folder.glob("*.ipynb")))

    assert "**Flagged** by the code scan" in first_cells("hostile_network")
    assert "imports socket (network access)" in first_cells("hostile_network")
    assert "**Late:** a penalty of" in first_cells("late")
    assert "Note for the TA" not in first_cells("correct_classic")
    students = ["hostile_network", "late"]
    assert generate_feedback(built_course, students, out=lambda line: None) == students
    for student in students:
        pages = sorted((built_course.root / "feedback" / student / built_course.assignment).glob("*.html"))
        assert len(pages) == 2 and not any("Note for the TA" in page.read_text() for page in pages)


@in_a_browser
def test_feedback_as_a_student_sees_it_in_a_browser(built_course, graded_class, tmp_path):
    """Rendered by headless Chromium: the score, the student's own code and the failed hidden
    test's message are on the page; the hidden test's code is not."""
    student = "bug_l2_cost_mean_and_alt_cache_order"
    generate_feedback(built_course, [student], out=lambda line: None)
    page = built_course.root / "feedback" / student / built_course.assignment / "regularization.html"
    text = page_text(chromium_dom(page.as_uri(), tmp_path))
    assert "np.mean" in text  # the student's own (buggy) code
    in_notebook = [score for cell, score in graded_class[student]["scores"].items()
                   if graded_cells(built_course)[cell] == "regularization"]
    got, top = (sum(values) for values in zip(*((score or 0.0, most) for score, most in in_notebook)))
    assert got < top - 1  # the bug's cells scored 0, and the page says how much of the notebook was earned
    assert f"Score: {round(got, 2)} / {round(top, 2)}" in text, re.findall(r"Score: [^)]*", text)[:3]
    assert "hidden test are not shown" in text
    assert not _leaks(built_course, student, text)


HIDDEN_PRINTER = "hostile_print_test_source"  # its functions print and raise their caller's source


def test_feedback_shows_no_hidden_test_line_whatever_the_code_prints(built_course, graded_class, tmp_path):
    """Functions that print, and raise errors holding, the source of the code calling them (never a
    test, which runs in the judge): their points are held, and the feedback says the notebooks are
    under review; once a TA decided (here rejected), no feedback file, nor its rendering in
    Chromium, shows a line of a hidden test."""
    hidden = secret_lines(built_course, TESTS_AND_MARK_SCHEMES, squeezed=True)
    assert len(hidden) > 30  # the scan has something to look for
    folder = built_course.root / "feedback" / HIDDEN_PRINTER / built_course.assignment
    assert generate_feedback(built_course, [HIDDEN_PRINTER], out=lambda line: None) == [HIDDEN_PRINTER]
    assert all(feedback.UNDER_REVIEW.split("**")[1] in page.read_text() for page in folder.glob("*.html"))
    assert main(["--course", str(built_course.root), "review", HIDDEN_PRINTER, "--reject"]) == 0
    assert generate_feedback(built_course, [HIDDEN_PRINTER], out=lambda line: None) == [HIDDEN_PRINTER]
    pages = sorted(folder.glob("*.html"))
    assert len(pages) == 2
    for page in pages:
        markup = page.read_text()
        texts = [html.unescape(page_text(markup))]
        if os.path.exists(CHROMIUM):
            texts.append(page_text(chromium_dom(page.as_uri(), tmp_path)))
        for text in texts:
            squeezed = squeeze(text)
            assert not [line for line in hidden if line in squeezed], page.name


def test_the_reader_sees_hidden_lines_in_images_invisible_characters_and_look_alike_letters(tmp_path):
    """The check below reads as a person does: a hidden-test line drawn into a PNG, split by
    zero-width spaces, or spelt with Cyrillic letters is seen; the course's own page is clean."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    course = Course(REPO)
    hidden = sorted(secret_lines(course, TESTS_AND_MARK_SCHEMES, squeezed=True), key=len)
    lines = [line for line in hidden if 20 <= len(line) <= 50][:3]
    originals = {_source_line(course, line) for line in lines}
    figure = pyplot.figure(figsize=(10, 1.6))
    for row, line in enumerate(sorted(originals)):
        figure.text(0.01, 0.75 - 0.3 * row, line, family="monospace", fontsize=14)
    figure.savefig(tmp_path / "drawn.png", dpi=150)
    pyplot.close(figure)
    drawn = base64.b64encode((tmp_path / "drawn.png").read_bytes()).decode()
    assert shown_secrets(f'<img src="data:image/png;base64,{drawn}">', hidden) >= set(lines)
    first, second = sorted(originals)[:2]
    cyrillic = second.replace("a", "\u0430").replace("e", "\u0435").replace("o", "\u043e")
    assert cyrillic != second
    page = f"<pre>{html.escape(chr(0x200b).join(first))}\n{html.escape(cyrillic)}</pre>"
    assert shown_secrets(page, hidden) >= {squeeze(first), squeeze(second)}
    release = (course.folder("release") / "regularization.ipynb").read_text()
    assert shown_secrets(html.escape(release), hidden) == set()


def _source_line(course, squeezed):
    """The source notebooks' line whose whitespace-free form is `squeezed`."""
    for path in course.notebooks("source"):
        for cell in nbformat.read(path, as_version=4).cells:
            for line in cell.source.splitlines():
                if squeeze(line) == squeezed:
                    return line.strip()
    raise LookupError(squeezed)


ATTACKERS = [s["id"] for s in manifest()[1] if s["id"].startswith("attack_")]


def test_no_attackers_feedback_shows_a_hidden_test_line_read_as_a_person_reads_it(built_course, graded_class):
    """The feedback of every attacker of the demo class (display credit, objects that pass for
    arrays, audit hooks, finding the grader, the kernel's messages, leaks, the disk): no line of
    a hidden test or mark scheme, in its text or in the text of its images."""
    hidden = secret_lines(built_course, TESTS_AND_MARK_SCHEMES, squeezed=True)
    assert len(hidden) > 30 and len(ATTACKERS) >= 7
    written = generate_feedback(built_course, ATTACKERS, out=lambda line: None)
    assert set(written) == set(ATTACKERS)
    for student in ATTACKERS:
        pages = sorted((built_course.root / "feedback" / student / built_course.assignment).glob("*.html"))
        assert len(pages) == 2, student
        for page in pages:
            assert not shown_secrets(page.read_text(), hidden), (student, page.name)


def _leaks(course, student, text):
    """Secret lines in `text` that the student's own submission does not hold (a correct student
    writes some solution lines, and may see them)."""
    own = "\n".join(p.read_text() for p in course.submission(student).glob("*.ipynb"))
    return [line for line in secret_lines(course) if line in text and line not in own]


# ---------------------------------------------------------------- a small class of its own

@pytest.fixture()
def small_class(built_course, tmp_path):
    """A copy of the built course with three correct submissions."""
    course = released_copy(built_course, tmp_path)
    classic = [REPO / "demo/students/regularization/classic.py", REPO / "demo/students/batchnorm/classic.py"]
    for student in ("s1", "s2", "s3"):
        fill_on_time(course, classic, student)
    return course


class GradebookUse:
    """While in use: which processes (this one, or those it forks) connect to the SQLite gradebook
    at `path` (`connections`: their pids), and how many write transactions this one commits
    there (`writes`: Python's sqlite3 begins a transaction only to write)."""

    _watching = None  # the instance in use: an audit hook cannot be removed, only ignored

    def __init__(self, path):
        self.path, self.connections, self.writes = os.path.realpath(path), [], 0
        handle, log = tempfile.mkstemp(prefix="gradebook-use-")
        os.close(handle)
        self._log = Path(log)

    def __enter__(self):
        if not hasattr(GradebookUse, "_hooked"):
            sys.addaudithook(GradebookUse._audit)
            GradebookUse._hooked = True
        GradebookUse._watching = self
        event.listen(Engine, "connect", self._connected)
        return self

    def __exit__(self, *_):
        GradebookUse._watching = None
        event.remove(Engine, "connect", self._connected)
        self.connections = [int(pid) for pid in self._log.read_text().split()]
        self._log.unlink()

    @staticmethod
    def _audit(name, arguments):
        watching = GradebookUse._watching
        if name == "sqlite3.connect" and watching and os.path.realpath(arguments[0]) == watching.path:
            with open(watching._log, "a") as log:  # forked graders write here too
                log.write(f"{os.getpid()}\n")

    def _connected(self, connection, _record):
        if os.path.realpath(connection.execute("PRAGMA database_list").fetchone()[2]) == self.path:
            connection.set_trace_callback(self._statement)

    def _statement(self, sql):
        self.writes += sql.startswith("BEGIN")


def test_regrading_grades_only_what_changed(small_class, monkeypatch):
    """...and the views read the survey the grading recorded, until the submission changes: then
    they say so, until it is graded again. Only the batch's own process opens the course's
    gradebook, as often for three submissions as for one, and commits one transaction for each."""
    with GradebookUse(small_class.root / "gradebook.db") as three:
        first = grade_class(small_class, out=lambda line: None)
    assert sorted(first) == ["s1", "s2", "s3"] and {e["status"] for e in first.values()} == {"ok"}
    with monkeypatch.context() as views:
        views.setattr("nnlab.grading.outcome.survey", lambda *_: pytest.fail("a view surveyed again"))
        assert {outcome(small_class, s)["status"] for s in first} == {"ok"}
    lines = []
    assert grade_class(small_class, out=lines.append) == {}
    assert "3 submissions unchanged" in lines[0]
    # a record written before records carried their verdict is not read as one
    old = {k: v for k, v in read_record(small_class.root, "s3", "batchnorm").items() if k not in ("status", "reasons")}
    write_record(small_class.root, "s3", "batchnorm", old)
    assert outcome(small_class, "s3")["status"] == "flagged"
    assert f"batchnorm.ipynb: {OLDER}" in outcome(small_class, "s3")["reasons"]
    fill_on_time(small_class, [REPO / "demo/students/regularization/bugs/l2_cost_mean.py"], "s2", force=True)
    changed = outcome(small_class, "s2")
    assert changed["status"] == "warning" and changed["total"] == first["s2"]["total"]
    assert "the submission or the release changed since it was graded: `nnlab grade s2` grades it again" \
        in changed["reasons"]
    again = grade_class(small_class, out=lambda line: None)
    assert list(again) == ["s2"]
    assert not any("changed since" in reason for reason in outcome(small_class, "s2")["reasons"])
    with GradebookUse(small_class.root / "gradebook.db") as one:
        assert list(grade_class(small_class, students=["s1"], force=True, out=lambda line: None)) == ["s1"]
    assert set(three.connections) == set(one.connections) == {os.getpid()}
    assert len(three.connections) == len(one.connections)
    assert (three.writes, one.writes) == (1 + 3, 1)  # the first batch stores the due date, once


def test_a_new_grading_rule_makes_every_submission_stale(tmp_path, monkeypatch):
    """The course key covers the package's grading code (not its caches, nor the feedback's
    steps, which decide no grade): `nnlab grade` regrades the class after an upgrade that changes
    how grades are decided."""
    (tmp_path / "course").mkdir()
    course = copy_course(tmp_path / "course")
    package = tmp_path / "nnlab"
    shutil.copytree(ledger.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(ledger, "PACKAGE", package)
    before = course_key(course)
    (package / "steps" / "__pycache__").mkdir()
    (package / "steps" / "__pycache__" / "late.cpython-311.pyc").write_bytes(b"compiled")
    with open(package / "steps" / "feedback.py", "a") as handle:
        handle.write("\n# a new feedback page\n")
    assert course_key(course) == before
    for rule in ("steps/late.py", "confinement/kernelclock.py", "grading/outcome.py", "status.py", "__init__.py"):
        with open(package / rule, "a") as handle:
            handle.write("\n# a new rule\n")
        assert course_key(course) != before, rule
        before = course_key(course)


def test_a_submission_the_machine_keeps_stopping_is_busy_and_graded_again_later(small_class):
    """With a wall-clock backstop far shorter than the notebook (as on a machine too busy to run
    it), both gradings of each notebook stop: the student is `busy`, with no total and the command
    to grade later; the next `nnlab grade`, without --force, grades it in full."""
    config = {"GuardedExecute": {"wall_factor": 0.005}}  # backstops of 1 s (cell) and 3 s (notebook)
    assert grade_class(small_class, students=["s1"], config=config, out=lambda line: None)["s1"]["status"] == "busy"
    row = outcome(small_class, "s1")
    assert row["status"] == "busy" and row["total"] is None
    assert any("machine busy" in reason and "not charged" in reason for reason in row["reasons"])
    assert any("`nnlab grade s1`" in reason for reason in row["reasons"])
    # what formgrader shows: the notebooks flagged, with a note that their 0s are not the student's
    autograded = sorted((small_class.root / "autograded" / "s1" / small_class.assignment).glob("*.ipynb"))
    busy = {path.stem: any(e["kind"] == "busy" for e in read_record(small_class.root, "s1", path.stem)["events"])
            for path in autograded}
    assert len(busy) == 2 and busy["regularization"]  # the notebook of the three trainings
    for path in autograded:
        note = nbformat.read(path, as_version=4).cells[0].source
        told = "Not graded: the machine was too busy" in note and "`nnlab grade s1`" in note
        assert told == busy[path.stem], (path.stem, note[:200])
    with sqlite3.connect(small_class.root / "gradebook.db") as db:
        flagged = dict(db.execute("select notebook.name, submitted_notebook.flagged from submitted_notebook "
                                  "join notebook on notebook.id = submitted_notebook.notebook_id"))
    assert flagged == busy
    lines = []
    assert grade_class(small_class, students=["s1"], out=lines.append)["s1"]["status"] == "ok"
    assert not any("unchanged" in line for line in lines)


def test_ctrl_c_leaves_a_consistent_gradebook_and_the_next_run_finishes(small_class):
    """SIGINT while the first submissions are graded: the batch stops, its workers and kernels are
    gone, the ledger says who is not graded, and the next run grades exactly those."""
    process = subprocess.Popen([sys.executable, "-m", "nnlab.cli", "--course", str(small_class.root),
                                "grade", "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=sigint_by_default)
    ledger = small_class.root / "grading" / "status.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (ledger.is_file() and "running" in ledger.read_text()):
        time.sleep(0.2)
    time.sleep(3)  # kernels started
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "interrupted" in output
    statuses = {s: e["status"] for s, e in json.loads(ledger.read_text()).items()}
    assert "interrupted" in statuses.values() and "running" not in statuses.values()
    assert not _processes_under(small_class.root)
    # kernels (as root, they run as uids from UID_BASE; an ordinary user's die with the worker)
    assert not [pid for uid in range(UID_BASE, UID_BASE + 2 * os.cpu_count()) for pid in processes_of(uid)]
    with sqlite3.connect(small_class.root / "gradebook.db") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    rest = grade_class(small_class, out=lambda line: None)
    assert set(rest) == {s for s in ("s1", "s2", "s3") if statuses.get(s) != "graded"}
    assert {e["status"] for e in rest.values()} == {"ok"}, {s: outcome(small_class, s)["reasons"] for s in rest}


def _processes_under(root):
    """Pids of processes whose command line or working folder is inside `root`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = open(f"/proc/{pid}/cmdline").read()
        except OSError:
            continue
        if cwd.startswith(str(root)) or str(root) in cmdline:
            found.append(pid)
    return found


def test_commands_survive_class_data_removed_since_grading(small_class, capsys):
    """autograded/ of one student removed: feedback says so for that student, writes the others'
    and succeeds; everything removed: feedback says why for each and fails; export and report
    still show the class."""
    grade_class(small_class, ["s1", "s2"], out=lambda line: None)
    shutil.rmtree(small_class.root / "autograded" / "s1")
    assert main(["--course", str(small_class.root), "feedback"]) == 0
    out = capsys.readouterr().out
    assert "s2: " + str(small_class.root / "feedback" / "s2") in out
    assert "s1: no feedback" in out and "s1: " + str(small_class.root / "feedback") not in out
    shutil.rmtree(small_class.root / "autograded")
    (small_class.root / "gradebook.db").unlink()
    assert main(["--course", str(small_class.root), "feedback"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "s1: no feedback" in captured.out and "s2: no feedback" in captured.out
    assert main(["--course", str(small_class.root), "export"]) == 0
    with open(small_class.root / "grades.csv", newline="") as handle:
        exported = {row["student"]: row for row in csv.DictReader(handle)}
    assert {s: row["status"] for s, row in exported.items()} == dict.fromkeys(["s1", "s2", "s3"], "not graded")
    assert all("run nnlab grade" in row["reasons"] and row["total"] == "" for row in exported.values())
    assert main(["--course", str(small_class.root), "report"]) == 0
    page = (small_class.root / "reports" / "index.html").read_text()
    assert all(f"<td>{s}</td><td>not graded</td>" in page for s in exported)


def test_unknown_student_is_an_error_and_nothing_is_written(small_class, capsys):
    assert main(["--course", str(small_class.root), "grade", "nobody"]) == 2
    assert "no submission for: nobody" in capsys.readouterr().err
    assert not (small_class.root / "grading").exists()


def test_jobs_must_be_positive(small_class, capsys):
    with pytest.raises(SystemExit):
        main(["--course", str(small_class.root), "grade", "--jobs", "0"])
    assert "not a positive whole number" in capsys.readouterr().err


def test_no_submissions_or_no_release_or_no_course_is_a_clear_error(built_course, tmp_path):
    (tmp_path / "empty").mkdir()
    course = copy_course(tmp_path / "empty")
    with pytest.raises(CourseError, match="not released yet"):
        grade_class(course)
    shutil.copy2(built_course.released_gradebook, course.root / "gradebook.db")
    with pytest.raises(CourseError, match="no submissions"):
        grade_class(course)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(CourseError, match="no course folder"):
        Course(tmp_path / "elsewhere")
    with pytest.raises(CourseError, match="no assignment 'other'"):
        grade_class(Course(course.root, assignment="other"))
    assert not (course.root / "grading").exists()
