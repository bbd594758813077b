"""The master notebooks are sound, and release/ and solutions/ are exactly what nbgrader makes
of them, with nothing secret in release/."""
import ast
import json

import nbformat
import pytest
from nbgrader.validator import Validator

from nnlab import notebooks
from nnlab.course import Course
from nnlab.authoring.release import comparable

from conftest import REPO

COURSE = Course(REPO)
SOURCES = COURSE.notebooks("source")
GRADED_CALL_ERROR = "NotImplementedError"


SECRET_REGIONS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
                  ("=== BEGIN MARK SCHEME", "=== END MARK SCHEME"))


def split_lines(path):
    """(secret, public) lines of a master notebook: inside and outside the solution, hidden-test
    and mark-scheme regions (lines long enough to be telling, comments left out)."""
    secret, public, inside = set(), set(), False
    for cell in nbformat.read(path, as_version=4).cells:
        for line in cell.source.splitlines():
            text = line.strip()
            if text.startswith(tuple(begin for begin, _ in SECRET_REGIONS)):
                inside = True
            elif text.startswith(tuple(end for _, end in SECRET_REGIONS)):
                inside = False
            elif len(text) > 12 and not text.startswith("#"):
                (secret if inside else public).add(text)
    return secret, public


def solution_cells(path):
    notebook = nbformat.read(path, as_version=4)
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]


def test_there_are_master_notebooks():
    assert [p.name for p in SOURCES] == ["batchnorm.ipynb", "regularization.ipynb"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_source_validates(path):
    """nbgrader's validator runs the notebook and finds no failing test (its exit code would not
    tell: `nbgrader validate` exits 0 on failures)."""
    results = Validator(config=COURSE.config()).validate(str(path))
    assert results == {}, json.dumps(results, indent=1)[:3000]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_each_graded_cell_is_one_def(path):
    for cell in solution_cells(path):
        body = ast.parse(cell.source).body
        assert len(body) == 1 and isinstance(body[0], ast.FunctionDef), cell.source[:200]
        assert body[0].name == cell.metadata["nbgrader"]["grade_id"]


@pytest.mark.parametrize("kind", ["release", "solutions"])
def test_committed_copies_are_what_nbgrader_generates(built_course, kind):
    committed = sorted(p.relative_to(REPO / kind) for p in (REPO / kind).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    generated = sorted(p.relative_to(built_course.root / kind) for p in (built_course.root / kind).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    assert committed == generated
    for relative in committed:
        mine, theirs = REPO / kind / relative, built_course.root / kind / relative
        if relative.suffix == ".ipynb":
            assert comparable(mine) == comparable(theirs), f"{kind}/{relative} is stale: run `nnlab release`"
        else:
            assert mine.read_bytes() == theirs.read_bytes(), f"{kind}/{relative} is stale"


def secret_lines(course=COURSE):
    """Lines of solutions, hidden tests and mark schemes that the master notebooks and the support
    code do not also show in the open (as an instruction or provided code)."""
    secret, public = set(), {line.strip() for p in course.folder("source").rglob("*.py")
                             for line in p.read_text().splitlines()}
    for path in course.notebooks("source"):
        hidden, shown = split_lines(path)
        secret |= hidden
        public |= shown
    shown = "\n".join(public)
    return {line for line in secret if line not in shown}


def test_release_holds_no_secret():
    """No secret line stands in release/."""
    secrets = secret_lines()
    assert len(secrets) > 50  # the scan has something to look for
    released = {p: p.read_text() for p in (REPO / "release").rglob("*")
                if p.is_file() and p.suffix in {".ipynb", ".py", ".md", ".txt", ".json"}}
    leaks = [(str(p), line) for p, text in released.items() for line in secrets if line in text]
    assert not leaks, leaks[:5]
    for path in COURSE.notebooks("release"):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME"):
            assert marker not in text, f"{path.name} holds {marker}"


@pytest.mark.parametrize("path", COURSE.notebooks("release"), ids=lambda p: p.name)
def test_untouched_release_runs_to_the_end(path):
    """Only cells calling a graded function fail, all with NotImplementedError, and every cell runs."""
    executed = notebooks.execute(path)
    graded = {c.metadata["nbgrader"]["grade_id"] for c in solution_cells(path)}
    failing = notebooks.errors(executed)
    cells = notebooks.by_id(executed)
    assert failing and not graded & set(failing)  # defining the stubs works; calling them fails
    for cell_id, error in failing.items():
        assert error == GRADED_CALL_ERROR, f"cell {cell_id} raised {error}"
        assert any(name in cells[cell_id].source for name in graded), cell_id
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code" and c.source.strip())
