"""`nnlab export`: the class as one table, from the ledger (status, reasons) and the gradebook
(scores, including the written answers a TA graded since)."""
import csv

import nbformat
from nbgrader.utils import is_grade, is_task

from .batch import submitted_students
from .grading import read_scores
from .ledger import Ledger

# Statuses whose gradebook rows are not a grading of the current submission.
UNGRADED = {"failed", "running", "interrupted", "not graded"}


def graded_cells(course, tests_only=False):
    """grade ids of every graded cell (tests, and written answers unless `tests_only`), in
    notebook order."""
    return [cell.metadata["nbgrader"]["grade_id"] for path in course.notebooks("source")
            for cell in nbformat.read(path, as_version=4).cells
            if (is_grade(cell) and cell.cell_type == "code")
            or ((is_grade(cell) or is_task(cell)) and not tests_only)]


def class_rows(course):
    """[{"student", "status", "reasons", "scores", "late_penalty", "total", "max"}], one per
    student with a submission or a ledger entry, sorted by id."""
    ledger = Ledger(course)
    rows = []
    for student in sorted(set(submitted_students(course)) | set(ledger.entries)):
        entry = ledger.get(student) or {"status": "not graded",
                                        "reasons": ["not graded yet: run nnlab grade"]}
        row = {"student": student, "status": entry["status"], "reasons": entry.get("reasons", []),
               "scores": None, "late_penalty": 0.0, "total": None, "max": None,
               "sandbox": entry.get("sandbox")}
        if entry["status"] not in UNGRADED:
            scores, penalty, _ = read_scores(course, student)
            if scores is not None:
                got = sum(score or 0 for score, _ in scores.values())
                row.update(scores=scores, late_penalty=penalty, total=round(got - penalty, 6),
                           max=sum(top for _, top in scores.values()))
        rows.append(row)
    return rows


def write_csv(course, path):
    """One row per student: status, total (after the late penalty), maximum, late penalty,
    reasons, then the score of every graded cell (blank: not graded, or a written answer not
    graded yet)."""
    cells = graded_cells(course)
    rows = class_rows(course)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "total", "max", "late_penalty", "sandboxed", "reasons",
                         *cells])
        for row in rows:
            scores = row["scores"] or {}
            writer.writerow([row["student"], row["status"], _blank(row["total"]),
                             _blank(row["max"]), row["late_penalty"], _blank(row["sandbox"]),
                             " | ".join(row["reasons"]),
                             *[_blank(scores.get(cell, (None,))[0]) for cell in cells]])
    return rows


def _blank(value):
    if value is None:
        return ""
    return ("yes" if value else "no") if isinstance(value, bool) else f"{value:g}"
