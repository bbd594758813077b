"""`nnlab export`: the class as one table, one row per student, from `outcome` (status, reasons,
scores including the written answers a TA graded since, held points)."""
import csv

import nbformat
from nbgrader.utils import is_grade, is_task

from ..grading.outcome import class_rows

HELD = "held"  # what the CSV shows for points held for review, instead of a number


def graded_cells(course, tests_only=False):
    """grade ids of every graded cell (tests, and written answers unless `tests_only`), in
    notebook order, with the notebook each is in: {grade_id: notebook name}."""
    return {cell.metadata["nbgrader"]["grade_id"]: path.stem for path in course.notebooks("source")
            for cell in nbformat.read(path, as_version=4).cells
            if (is_grade(cell) and cell.cell_type == "code")
            or ((is_grade(cell) or is_task(cell)) and not tests_only)}


def write_csv(course, path):
    """One row per student: status, total (after the late penalty; "held" while points are held
    for review), maximum, late penalty, sandbox, the limits in force, reasons, then the score of
    every graded cell (blank: not graded, or a written answer not graded yet; "held")."""
    cells = graded_cells(course)
    tests = graded_cells(course, tests_only=True)
    rows = class_rows(course)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "total", "max", "late_penalty", "sandboxed", "limits",
                         "reasons", *cells])
        for row in rows:
            scores = row["scores"] or {}
            writer.writerow([row["student"], row["status"],
                             HELD if row["held"] else _blank(row["total"]), _blank(row["max"]),
                             row["late_penalty"], _blank(row["sandbox"]), row["confinement"],
                             " | ".join(row["reasons"]),
                             *[HELD if cell in tests and cells[cell] in row["held"]
                               else _blank(scores.get(cell, (None,))[0]) for cell in cells]])
    return rows


def _blank(value):
    if value is None:
        return ""
    return ("yes" if value else "no") if isinstance(value, bool) else f"{value:g}"
