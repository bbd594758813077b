"""Building release/ and solutions/ from source/: the course's dataset setting, the expected
outputs written from the executed solution, and notebooks compared up to volatile metadata and
round-off (`roundoff`), so that the committed files are the same whatever machine builds them."""
import re
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from ..course import Course, CourseError
from ..steps.late import apply_due_date
from .roundoff import difference, same_text

# Set by the kernel or nbclient on every run; says nothing about the content.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")
# The tag of cells whose printed output is a time measurement, different at every run.
TIMING_TAG = "timing"
# The course file naming the dataset, read by labkit.data.load_dataset() wherever the course runs.
SETTING_FILE = "dataset.txt"
EXPECTED_HEADING = "**Expected output**"
FENCE = "```"
# A line of an expected-output block holding "~" stands for round-off that varies between runs:
# it is kept as the instructor wrote it.
ROUND_OFF = "~"
# How a heading names the dataset its block was printed with.
DATASET_NAMED = re.compile(r"(dataset |数据集 )`[^`]*`")


def build(course: Course):
    """Regenerate the student copies and the executed solutions with nbgrader for the course's
    dataset, write what the solution printed into the master notebooks' expected-output blocks
    (and regenerate if that changed them); committed copies that differ only in volatile parts
    are left untouched."""
    print(f"dataset: {write_dataset_setting(course)}")
    with volatile_changes_dropped(course):
        _generate(course)
        filled = fill_expected_outputs(course)
        if filled:
            print(f"expected outputs rewritten in {', '.join(filled)}: generating again")
            _generate(course)


def _generate(course):
    print(f"nbgrader generate_assignment {course.assignment} -> {course.folder('release')}")
    course.generate_release()
    with Gradebook(course.db_url) as gradebook:
        apply_due_date(course, gradebook)
    print(f"nbgrader generate_solution {course.assignment} -> {course.folder('solutions')}")
    course.generate_solutions()


def write_dataset_setting(course):
    """Name the configured dataset (c.NNLab.dataset) in source/<assignment>/dataset.txt, which
    travels with the course files; rewritten only when it changes. Returns the name."""
    name = course.settings().dataset
    folder = course.folder("source")
    if Path(name).name != name or Path(name).suffix not in (".npz", ".mat"):
        raise CourseError(f"c.NNLab.dataset = {name!r}: name a .npz or .mat file beside the notebooks "
                          f"in {folder}")
    if not (folder / name).is_file():
        raise CourseError(f"c.NNLab.dataset = {name!r}, but {folder / name} does not exist: copy it there")
    setting = folder / SETTING_FILE
    if not setting.is_file() or setting.read_text() != name + "\n":
        setting.write_text(name + "\n")
    return name


@contextmanager
def volatile_changes_dropped(course):
    """Put back the previous bytes of every release/ and solutions/ notebook that the body
    rewrote with nothing but volatile changes (execution timestamps, images, timings, round-off),
    so that regenerating leaves the tree clean on any machine."""
    before = {path: path.read_bytes() for kind in ("release", "solutions") for path in course.notebooks(kind)}
    yield
    for path, old in before.items():
        if path.is_file() and path.read_bytes() != old and notebook_difference(path, old) is None:
            path.write_bytes(old)


def fill_expected_outputs(course):
    """Write into each expected-output block of the master notebooks what the code cell above it
    printed in the executed solution. Returns the names of the notebooks that changed."""
    dataset = course.settings().dataset
    changed = []
    for master in course.notebooks("source"):
        notebook = nbformat.read(master, as_version=4)
        executed = nbformat.read(course.folder("solutions") / master.name, as_version=4)
        if fill_notebook(notebook, executed, dataset):
            nbformat.write(notebook, master)
            changed.append(master.name)
    return changed


def fill_notebook(notebook, executed, dataset):
    """Fill `notebook`'s expected-output blocks from the `executed` solution; True if any changed."""
    printed = {_grade_id(cell): cell for cell in executed.cells if _grade_id(cell)}
    changed = False
    for code, markdown in expected_blocks(notebook):
        ran = printed[_grade_id(code)]
        if any(output.output_type == "error" for output in ran.outputs):
            raise CourseError(f"the solution's cell {_grade_id(code)} failed: its expected output cannot be written")
        source = filled(markdown.source, _stdout(ran), dataset)
        changed |= source != markdown.source
        markdown.source = source
    return changed


def expected_blocks(notebook):
    """[(code cell, markdown cell)]: each markdown cell opening with "**Expected output**" and
    holding a fenced block, after the code cell whose printed text it shows (an nbgrader cell, by
    which the executed copy is found; timing cells never)."""
    return [(code, cell) for code, cell in zip(notebook.cells, notebook.cells[1:])
            if cell.cell_type == "markdown" and cell.source.startswith(EXPECTED_HEADING)
            and FENCE in cell.source and code.cell_type == "code" and _grade_id(code)
            and TIMING_TAG not in code.metadata.get("tags", [])]


def filled(markdown, printed, dataset):
    """The markdown of an expected-output block showing `printed`; where the printed text has as
    many lines as the block, a line is kept as written when it holds a round-off placeholder or
    agrees with the printed one up to round-off; the heading names `dataset`."""
    heading, block, rest = markdown.split(FENCE, 2)
    old, new = block.strip("\n").splitlines(), printed.rstrip("\n").splitlines()
    if len(old) == len(new):
        new = [mine if ROUND_OFF in mine or same_text(mine, line) else line for mine, line in zip(old, new)]
    heading = DATASET_NAMED.sub(lambda match: f"{match.group(1)}`{dataset}`", heading)
    return heading + FENCE + "\n" + "\n".join(new) + "\n" + FENCE + rest


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _stdout(cell):
    return "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stdout")


def notebook_difference(a, b):
    """Where the notebooks `a` and `b` (paths or bytes) differ beyond volatile parts and round-off,
    in words; None when they do not."""
    return difference(comparable(a), comparable(b))


def comparable(notebook):
    """A notebook (a path, or its bytes) as a plain structure without volatile metadata; images
    are reduced to their presence, since their bytes depend on the font and PNG libraries of the
    machine, and the text printed by cells tagged "timing" to its presence."""
    if isinstance(notebook, bytes):
        notebook = nbformat.reads(notebook.decode(), as_version=4)
    else:
        notebook = nbformat.read(notebook, as_version=4)
    cells = []
    for cell in notebook.cells:
        metadata = {k: v for k, v in cell.metadata.items() if k not in VOLATILE_CELL_METADATA}
        entry = {"type": cell.cell_type, "source": cell.source, "metadata": metadata}
        if cell.cell_type == "code":
            timing = TIMING_TAG in cell.metadata.get("tags", [])
            entry["outputs"] = [_output(o, timing) for o in _joined_streams(cell.outputs)]
        cells.append(entry)
    return {"metadata": dict(notebook.metadata), "cells": cells}


def _joined_streams(outputs):
    """Outputs with consecutive chunks of one stream joined: how the kernel splits printed text
    into messages varies from run to run."""
    joined = []
    for output in outputs:
        if (output.get("output_type") == "stream" and joined and joined[-1].get("output_type") == "stream"
                and joined[-1]["name"] == output["name"]):
            joined[-1] = dict(joined[-1], text=joined[-1]["text"] + output["text"])
        else:
            joined.append(dict(output))
    return joined


def _output(output, timing):
    output = dict(output)
    if timing and "text" in output:
        output["text"] = "<timing>"
    data = dict(output.get("data", {}))
    if "image/png" in data:
        data["image/png"] = "<png>"
    output["data"] = data
    output.pop("execution_count", None)
    output.pop("metadata", None)
    return output
