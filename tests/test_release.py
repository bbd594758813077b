"""The master notebooks are sound, and release/ and solutions/ are exactly what nbgrader makes
of them, with nothing secret in release/."""
import ast
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbgrader.validator import Validator

from nnlab import notebooks
from nnlab.course import Course, CourseError
from nnlab.authoring.roundoff import same_text
from nnlab.authoring.release import (build, fill_notebook, notebook_difference, volatile_changes_dropped,
                                     write_dataset_setting)

from conftest import nbgrader_command, GENERATED, OTHER_NUMERICS, REPO, copy_course, readable_text, secret_lines

COURSE = Course(REPO)
SOURCES = COURSE.notebooks("source")
GRADED_CALL_ERROR = "NotImplementedError"


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


@GENERATED
@pytest.mark.parametrize("kind", ["release", "solutions"])
def test_committed_copies_are_what_nbgrader_generates(request, generated, kind):
    built_course = request.getfixturevalue(generated)
    committed = sorted(p.relative_to(REPO / kind) for p in (REPO / kind).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    generated = sorted(p.relative_to(built_course.root / kind) for p in (built_course.root / kind).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts)
    assert committed == generated
    for relative in committed:
        mine, theirs = REPO / kind / relative, built_course.root / kind / relative
        if relative.suffix == ".ipynb":
            stale = notebook_difference(mine, theirs)
            assert stale is None, f"{kind}/{relative} is stale ({stale}): run `nnlab release`"
        else:
            assert mine.read_bytes() == theirs.read_bytes(), f"{kind}/{relative} is stale"


def leaks(course):
    """[(file, secret line or region marker)] found in the course's release/."""
    secrets = secret_lines(course)
    assert len(secrets) > 50  # the scan has something to look for
    released = {p: readable_text(p) for p in (course.root / "release").rglob("*")
                if p.is_file() and p.suffix in {".ipynb", ".py", ".md", ".txt", ".json"}}
    found = [(str(p), line) for p, text in released.items() for line in secrets if line in text]
    for path in course.notebooks("release"):
        text = path.read_text()
        found += [(str(path), marker) for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "MARK SCHEME")
                  if marker in text]
    return found


def test_release_holds_no_secret(tmp_path):
    """No secret line stands in release/; one that a release came to show would be found."""
    found = leaks(COURSE)
    assert not found, found[:5]
    course = copy_course(tmp_path)
    line = sorted(secret_lines(course, kinds=("hidden tests",)))[0]
    path = course.folder("release") / "regularization.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[-1].source += "\n" + line
    nbformat.write(notebook, path)
    assert leaks(course) == [(str(path), line)]


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


def _markdown_after(code_source, block, tags=()):
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(code_source, metadata={"nbgrader": {"grade_id": "run"}, "tags": list(tags)})
    text = nbformat.v4.new_markdown_cell(f"**Expected output** with the course's dataset `old.npz` (数据集 `old.npz`):\n\n```\n{block}\n```\nAfter.")
    notebook.cells = [code, text]
    return notebook


def _executed(notebook, printed):
    executed = nbformat.from_dict(nbformat.reads(nbformat.writes(notebook), as_version=4))
    executed.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed),
                                 nbformat.v4.new_output("stream", name="stderr", text="a warning\n")]
    return executed


def test_expected_output_is_filled_from_what_the_solution_printed():
    notebook = _markdown_after("print(...)", "mean: 1\nsum: ~1e-17\nstale line")
    executed = _executed(notebook, "mean: 2\nsum: 3.1e-17\nfresh line\n")
    assert fill_notebook(notebook, executed, "data.mat")
    assert notebook.cells[1].source == ("**Expected output** with the course's dataset `data.mat` (数据集 `data.mat`):"
                                        "\n\n```\nmean: 2\nsum: ~1e-17\nfresh line\n```\nAfter.")
    assert not fill_notebook(notebook, executed, "data.mat")  # idempotent


def test_expected_output_takes_all_printed_lines_when_their_number_changes():
    notebook = _markdown_after("print(...)", "a ~\nb")
    assert fill_notebook(notebook, _executed(notebook, "x\ny\nz\n"), "old.npz")
    assert "```\nx\ny\nz\n```" in notebook.cells[1].source


def test_timing_cells_are_never_filled():
    notebook = _markdown_after("print(...)", "speed-up 3x", tags=["timing"])
    assert not fill_notebook(notebook, _executed(notebook, "speed-up 4.1x\n"), "old.npz")


def test_a_failing_solution_cell_is_an_error():
    notebook = _markdown_after("print(...)", "1")
    executed = _executed(notebook, "1\n")
    executed.cells[0].outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="", traceback=[]))
    with pytest.raises(CourseError, match="cannot be written"):
        fill_notebook(notebook, executed, "old.npz")


def test_volatile_rewrites_are_undone_and_real_changes_kept(tmp_path):
    course = copy_course(tmp_path)
    volatile, changed = (course.folder("solutions") / f"{n}.ipynb" for n in ("batchnorm", "regularization"))
    old = volatile.read_bytes()
    with volatile_changes_dropped(course):
        for path in (volatile, changed):
            notebook = nbformat.read(path, as_version=4)
            for cell in notebook.cells:
                cell.metadata["execution"] = {"iopub.status.busy": "2030-01-01T00:00:00Z"}
            if path == changed:
                notebook.cells[0].source += "\nA real change."
            nbformat.write(notebook, path)
    assert volatile.read_bytes() == old
    assert "A real change." in changed.read_text()


@pytest.mark.parametrize("name, error", [("missing.mat", "does not exist"), ("../data.mat", "beside the notebooks"),
                                         ("data.csv", "beside the notebooks")])
def test_the_dataset_setting_must_name_a_data_file_beside_the_notebooks(tmp_path, name, error):
    course = copy_course(tmp_path)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.NNLab.dataset = {name!r}\n")
    with pytest.raises(CourseError, match=re.escape(error)):
        write_dataset_setting(course)


def test_the_dataset_setting_defaults_to_the_bundled_file(tmp_path):
    course = copy_course(tmp_path)
    (course.folder("source") / "dataset.txt").unlink()
    assert write_dataset_setting(course) == "football.npz"
    assert (course.folder("source") / "dataset.txt").read_text() == "football.npz\n"


@pytest.mark.course  # builds the course twice
@pytest.mark.parametrize("numerics", [{}, OTHER_NUMERICS], ids=["this-machine", "other-numerics"])
def test_nnlab_release_leaves_the_committed_course_unchanged(tmp_path, monkeypatch, numerics):
    """What keeps `git status` clean after `make demo` on any machine: regenerating the committed
    course, here or with the numerics of another processor, rewrites no byte of source/,
    release/ or solutions/."""
    for name, value in numerics.items():  # the kernels that run the solutions inherit them
        monkeypatch.setenv(name, value)
    course = copy_course(tmp_path)
    build(course)
    for kind in ("source", "release", "solutions"):
        files = [p.relative_to(REPO) for p in sorted((REPO / kind).rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
        assert [str(p) for p in files if (REPO / p).read_bytes() != (course.root / p).read_bytes()] == []


TRAINING = """
import sys
sys.path.insert(0, sys.argv[1])
from labkit.data import load_dataset
from labkit.network import model
train_X, train_Y, _, _ = load_dataset()
print(repr(model(train_X, train_Y, num_iterations=10001, print_cost=False)[1][-1]))
"""


def test_the_other_numerics_print_other_last_digits():
    """The proof above is no proof unless the other numerics change what is printed: the
    plain network's cost after 10000 steps differs in its last digits, and only there."""
    folder = str(COURSE.folder("source"))
    printed = [subprocess.run([sys.executable, "-c", TRAINING, folder], cwd=folder, check=True, text=True,
                              capture_output=True, env=dict(os.environ, **numerics)).stdout
               for numerics in ({}, OTHER_NUMERICS)]
    assert printed[0] != printed[1] and same_text(*printed), printed


@pytest.mark.parametrize("kernel_arguments", [[], ["--Execute.extra_arguments=[]"]], ids=["course", "without"])
def test_the_courses_own_kernels_print_no_tcp_warning(kernel_arguments):
    """`nbgrader validate` in the course (whose kernels `nnlab release` and the demo start alike):
    the course's config keeps ipykernel's log to errors, so its warning of "running over TCP
    without encryption" is not printed; without that setting, it is."""
    done = nbgrader_command(COURSE, "validate", "source/nn_training/batchnorm.ipynb", *kernel_arguments)
    assert "Success!" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert ("without encryption" in done.stdout + done.stderr) == bool(kernel_arguments)
