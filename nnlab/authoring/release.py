"""Building release/ and solutions/ from source/, and comparing notebooks up to volatile metadata."""
import nbformat

from ..course import Course
from ..grading.late import apply_due_date

# Set by the kernel or nbclient on every run; says nothing about the content.
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")
# The tag of cells whose printed output is a time measurement, different at every run.
TIMING_TAG = "timing"


def build(course: Course):
    """Regenerate the student copies and the executed solutions with nbgrader."""
    print(f"nbgrader generate_assignment {course.assignment} -> {course.folder('release')}")
    course.generate_release()
    apply_due_date(course)
    print(f"nbgrader generate_solution {course.assignment} -> {course.folder('solutions')}")
    course.generate_solutions()


def comparable(path):
    """A notebook as a plain structure without volatile metadata; images are reduced to their
    presence, since their bytes depend on the font and PNG libraries of the machine, and the text
    printed by cells tagged "timing" to its presence."""
    notebook = nbformat.read(path, as_version=4)
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
