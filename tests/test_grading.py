"""Grading is fair: graded by `nnlab grade` (nbgrader's Autograde), the solution gets full marks,
the blank release none, every correct style full marks, every bug loses exactly the points of its
function's tests, and every demo student gets the outcome its manifest entry states."""
import codecs
import os
import re
import runpy
import stat
import subprocess

import nbformat
import pytest

from nnlab.course import CourseError
from nnlab.authoring.demo import earned, limits, lost_cells, make_class, manifest, mismatches
from nnlab.grading.batch import grade_class
from nnlab.grading.outcome import class_rows
from nnlab import notebooks
from nnlab.authoring.fill import fill

from conftest import REPO, copy_course, files_under, released_copy, secret_lines

SETTINGS, STUDENTS = manifest()


lost = lost_cells


def function_tests(course):
    """{graded function: its test cells}: the test cells that follow it, up to the next one."""
    owner, owned = None, {}
    for path in course.notebooks("source"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                owner = meta["grade_id"]
                owned[owner] = []
            elif meta.get("grade") and cell.cell_type == "code" and owner:
                owned[owner].append(meta["grade_id"])
    return owned


def test_solution_scores_full_marks(graded_class):
    row = graded_class["solution"]
    assert row["status"] == "ok"
    assert len(row["scores"]) >= 14
    assert lost(row) == []


def test_blank_release_scores_zero_everywhere(graded_class):
    assert all(not score for score, _ in graded_class["blank"]["scores"].values())


@pytest.mark.parametrize("student", STUDENTS, ids=lambda s: s["id"])
def test_demo_student_gets_what_the_manifest_says(graded_class, student):
    """Status, reasons, lost test cells and late penalty, as listed in demo/manifest.toml."""
    assert mismatches(student, graded_class[student["id"]]) == []


def test_a_busy_machine_changes_no_grade(graded_class):
    """The correct styles and the runaway students were graded while CPU hogs kept the load
    average at three times the cores or more: every correct student has full marks and status ok,
    every runaway student is charged what the manifest states for a quiet machine."""
    assert graded_class.peak_load >= 3 * os.cpu_count()
    assert {sid.split("_")[0] for sid in graded_class.under_load} == {"correct", "runaway"}
    for student in STUDENTS:
        if student["id"] in graded_class.under_load:
            assert mismatches(student, graded_class[student["id"]]) == [], student["id"]
            if student["id"].startswith("correct_"):
                assert graded_class[student["id"]]["status"] == "ok"


# Graded again on a quiet machine: a correct style, and a runaway charged for its time.
REGRADED_QUIETLY = ("correct_classic", "runaway_deaf_loop")


def test_graded_again_on_a_quiet_machine_every_cell_scores_the_same(built_course, graded_class, tmp_path):
    """The same submissions graded under the load above and again with nothing else running
    get the same score in every cell, and the same status."""
    settings, students = manifest()
    course = released_copy(built_course, tmp_path)
    make_class(course, [student for student in students if student["id"] in REGRADED_QUIETLY])
    grade_class(course, list(REGRADED_QUIETLY), jobs=2, config=limits(settings), out=lambda line: None)
    quiet = {row["student"]: row for row in class_rows(course)}
    for student in REGRADED_QUIETLY:
        assert student in graded_class.under_load
        assert quiet[student]["auto"] == graded_class[student]["auto"], student
        assert quiet[student]["status"] == graded_class[student]["status"], student


def test_at_least_five_correct_styles_get_full_marks(graded_class):
    correct = [s["id"] for s in STUDENTS if s["id"].startswith("correct_")]
    assert len(correct) >= 5
    assert all(lost(graded_class[sid]) == [] for sid in correct)


@pytest.mark.parametrize("student", [s for s in STUDENTS if s["bugs"] and not s.get("costs_others")],
                         ids=lambda s: s["id"])
def test_a_bug_costs_only_its_own_function(built_course, graded_class, student):
    """Each bug file replaces one function, which loses points; no other function's tests lose
    any (but where the manifest says why a bug must cost more)."""
    owned = function_tests(built_course)
    allowed = set()
    for bug_file in student["bugs"]:
        buggy = [name for name in owned if f"def {name}(" in bug_file.read_text()]
        assert len(buggy) == 1
        assert set(owned[buggy[0]]) & set(lost(graded_class[student["id"]])), buggy[0]
        allowed |= set(owned[buggy[0]])
    assert set(lost(graded_class[student["id"]])) <= allowed


# ---------------------------------------------------------------- nnlab fill

@pytest.fixture()
def course(tmp_path):
    return copy_course(tmp_path)


def write(tmp_path, text, name="functions.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fill_replaces_only_the_graded_cells_it_defines(course, tmp_path):
    functions = write(tmp_path, "import numpy as np\n\nSCALE = 2\n\n\ndef helper(x):\n    return SCALE * x\n\n\n"
                                "def compute_cost_with_regularization(A3, Y, parameters, lambd):\n"
                                "    return helper(compute_cost(A3, Y))\n")
    assert fill(course, [functions], "s1") == ["compute_cost_with_regularization"]
    released = nbformat.read(course.folder("release") / "regularization.ipynb", as_version=4)
    submitted = nbformat.read(course.submission("s1") / "regularization.ipynb", as_version=4)
    changed = [a.metadata["nbgrader"]["grade_id"] for a, b in zip(released.cells, submitted.cells)
               if a.source != b.source]
    assert changed == ["compute_cost_with_regularization"]
    source = notebooks.by_id(submitted)["compute_cost_with_regularization"].source
    assert source.index("import numpy") < source.index("SCALE = 2") < source.index("def helper") < source.index("def compute_cost_with")
    assert (course.submission("s1") / "timestamp.txt").read_text().startswith("20")
    assert (course.submission("s1") / "labkit" / "network.py").is_file()


@pytest.mark.parametrize("text, message", [
    ("def compute_cost_with_regularization(A3, Y, parameters, lambd)\n    return 0\n", "syntax error"),
    ("def compute_cost_with_regularisation(A3, Y, parameters, lambd):\n    return 0\n", "compute_cost_with_regularisation"),
    ("x = 1\n", "defines none of the graded functions"),
])
def test_fill_rejects_bad_files_and_writes_nothing(course, tmp_path, text, message):
    with pytest.raises(CourseError, match=message):
        fill(course, [write(tmp_path, text)], "s2")
    assert not (course.root / "submitted").exists()


def test_fill_needs_a_release_and_keeps_existing_submissions(course, tmp_path):
    functions = write(tmp_path, (REPO / "demo" / "students" / "regularization" / "classic.py").read_text())
    fill(course, [functions], "s3")
    with pytest.raises(CourseError, match="exists already"):
        fill(course, [functions], "s3")
    fill(course, [functions], "s3", force=True)
    for notebook in course.notebooks("release"):
        notebook.unlink()
    with pytest.raises(CourseError, match="no release notebooks"):
        fill(course, [functions], "s4")
    assert not course.submission("s4").exists()


def test_fill_command_reports_errors_without_a_traceback(course, tmp_path, capsys):
    from nnlab.cli import main

    status = main(["--course", str(course.root), "fill", str(write(tmp_path, "def f(:\n")), "--student", "x"])
    assert status == 2
    assert "syntax error" in capsys.readouterr().err


# ---------------------------------------------------------------- hostile students

HOSTILE = [s for s in STUDENTS if s["id"].startswith("hostile_")]


def defined(owned, path):
    return [name for name in owned if f"def {name}(" in path.read_text()]


def not_honestly_solved(student, owned):
    """Test cells a hostile student did not earn: every test of a function its hostile file
    defines, and the tests that its bug costs an honest student with the same bug."""
    cells = {cell for path in student["files"] if path.parent.name == "hostile"
             for name in defined(owned, path) for cell in owned[name]}
    for bug in student["bugs"]:
        honest = next(s for s in STUDENTS if bug in s["bugs"] and not s["damage"])
        cells |= set(honest["lost"]) & {c for name in defined(owned, bug) for c in owned[name]}
    return cells


@pytest.mark.parametrize("student", HOSTILE, ids=lambda s: s["id"])
def test_hostile_student_scores_no_more_than_blank_where_it_did_not_solve(built_course, graded_class, student):
    cells = not_honestly_solved(student, function_tests(built_course))
    assert cells
    row, blank = graded_class[student["id"]], graded_class["blank"]
    for cell in cells:  # even what accepting a held notebook would count
        assert earned(row, cell) <= earned(blank, cell), cell


def test_grading_left_source_submissions_and_gradebook_intact(built_course, graded_class):
    """No hostile student changed source/, another submission, or a grade in the gradebook: every
    test cell's autograded score is the one nbgrader gives the cell of the autograded notebook."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import determine_grade, is_grade

    assert files_under(built_course.folder("source"), built_course.root / "submitted") == graded_class.before
    compared = 0
    with Gradebook(built_course.db_url) as gradebook:
        for student in graded_class:
            for notebook in gradebook.find_submission(built_course.assignment, student).notebooks:
                path = built_course.root / "autograded" / student / built_course.assignment / f"{notebook.name}.ipynb"
                if not path.is_file():  # a notebook nbgrader could not grade
                    continue
                cells = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in nbformat.read(path, as_version=4).cells
                         if is_grade(cell) and cell.cell_type == "code"}
                stored = {g.name: g.auto_score for g in notebook.grades if g.name in cells}
                assert stored == {name: determine_grade(cell)[0] for name, cell in cells.items()}, (student, notebook.name)
                compared += len(stored)
    assert compared > 27 * len(graded_class) // 2  # most students' notebooks were compared


def test_grading_writes_only_what_git_ignores(built_course, graded_class):
    """`make demo` leaves `git status` clean: every file grading the class added to the course is
    one the repository ignores (class data), and it changed no file of source/ (building the
    release is checked in test_release)."""
    added = sorted(str(path.relative_to(built_course.root)) for path in built_course.root.rglob("*")
                   if path.is_file() and not (REPO / path.relative_to(built_course.root)).exists())
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                             input="\n".join(added), capture_output=True, text=True).stdout.split("\n")
    assert len(added) > 100 and "gradebook.db" in added
    assert sorted(set(added) - set(ignored)) == []
    def committed(folder):
        return {path.relative_to(folder): data for path, data in files_under(folder).items()
                if "__pycache__" not in path.parts}
    assert committed(built_course.folder("source")) == committed(REPO / "source" / built_course.assignment)


def test_files_of_the_grading_stay_the_graders(graded_class, ta_user):
    """After the ordinary user graded the class, every file and folder of the course is theirs
    (none left to a sandbox uid or to root), and they may delete each (folders writable)."""
    uid = ta_user[1]
    strangers = [str(path) for path, (owner, _) in graded_class.owners.items() if owner != uid]
    assert not strangers
    locked = [str(path) for path, (_, mode) in graded_class.owners.items()
              if stat.S_ISDIR(mode) and mode & 0o700 != 0o700]
    assert not locked


def printed(course, student):
    """Everything the student's two autograded notebooks show as text, read as a person reads it:
    zero-width characters dropped, look-alike Cyrillic letters folded to Latin ones."""
    text = "".join(notebooks.text_output(cell) for path in
                   sorted((course.root / "autograded" / student / course.assignment).glob("*.ipynb"))
                   for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    return text.replace("\u200b", "").translate(str.maketrans("асеорхуАВСЕНКМОРТХ", "aceopxyABCEHKMOPTX"))


def test_the_leak_hunter_finds_no_hidden_test_in_its_kernel(built_course, graded_class):
    """Its search of everything its kernel reaches (line cache, garbage collector, frames, input
    history, files, /proc) shows no line of the course's hidden tests, though the same search finds
    them in the autograded notebook the judge ran: the hidden tests live in the judge's process
    only. (What it shows may hold nbgrader's own marker text, from the library files a kernel
    can read: no test of the course.)"""
    hunter = runpy.run_path(str(REPO / "demo/students/hostile/leak_hunter.py"))["hidden_lines"]
    shown = printed(built_course, "attack_leak_hunter")
    assert re.findall(r"leak hunter: (\d+) hidden-test lines found", shown)  # it searched
    autograded = built_course.root / "autograded" / "attack_leak_hunter" / built_course.assignment
    assert len(hunter([(autograded / "batchnorm.ipynb").read_text()])) > 5  # the search works
    secrets = [line for line in secret_lines(built_course) if len(line) > 20]
    leaked = [line for line in secrets if line in shown or codecs.encode(line, "rot13") in shown]
    assert not leaked, leaked[:3]


def test_the_disk_filler_stops_at_the_sandboxs_caps(built_course, graded_class):
    """Every folder its kernel can write is a size-capped tmpfs: the writes stop there."""
    stops = dict(re.findall(r"(\S+): stopped after (\d+) MiB", printed(built_course, "attack_disk_filler")))
    assert set(stops) >= {".", "/tmp", "/dev/shm"}, stops
    assert all(int(mib) <= 512 for mib in stops.values()), stops
