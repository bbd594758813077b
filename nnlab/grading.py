"""Grading one submission with nbgrader's Autograde converter, as far as it can be graded.

`grade_submission` runs in its own process (see `batch`): it checks and stages the submission
(`intake`), autogrades each notebook separately (so one notebook that nbgrader cannot process does
not cost the other), and returns a plain record of the outcome: status, reasons, scores.
"""
import logging
import os
import time

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.utils import is_solution
from traitlets.config import Config
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute

from . import intake as submission_intake
from .intake import is_provided
from .execution import GuardedExecute
from .tampering import scan, top_level_names

# Worst first: the status of a submission is that of its worst finding.
STATUSES = ("failed", "flagged", "incomplete", "warning", "late", "ok")
# What the kernel's own events mean for the submission: cells were lost, or only noted.
LOSSES = {"died", "killed", "budget"}
# One kernel per core: numpy's threads would only compete with the other jobs.
THREAD_LIMITS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


class BatchAutograde(Autograde):
    """nbgrader's Autograde, keeping what GuardedExecute ran into (see `_converter`)."""

    def convert_single_notebook(self, notebook_filename):
        self.events = []
        try:
            super().convert_single_notebook(notebook_filename)
        finally:
            self.events = [event for pp in self.exporter._preprocessors
                           if isinstance(pp, GuardedExecute) for event in getattr(pp, "events", [])]


def grade_submission(course, student, staging, config=None):
    """Autograde `student`'s submission through `staging` (a folder nbgrader reads instead of
    submitted/), with `config` added to the course's nbgrader configuration.
    Returns {"status", "reasons", "scores", "late_penalty", "seconds"}."""
    started = time.perf_counter()
    os.environ.update(THREAD_LIMITS, MPLBACKEND="Agg")
    found = submission_intake.inspect(course.folder("release"), course.submission(student))
    submission_intake.stage(found, course.submission(student),
                            staging / student / course.assignment)
    flags = suspicious_code(course, found.notebooks)
    reasons, lost, graded = found.problems + found.notes + flags, bool(found.problems), []
    flagged = bool(flags)
    for name in sorted(found.notebooks):
        converter = _converter(course, student, staging, name, config)
        try:
            converter.start()
            graded.append(name)
        except Exception as error:  # nbgrader could not process this notebook: it scores 0
            lost = True
            reasons.append(f"{name}.ipynb: nbgrader could not grade it ({_short(error)}); "
                           f"see grading/logs/{student}.log")
        events = getattr(converter, "events", [])
        lost |= any(event["kind"] in LOSSES for event in events)
        flagged |= any(event["kind"] == "tampering" for event in events)
        reasons += _describe(f"{name}.ipynb", events)
    scores, penalty, late = read_scores(course, student) if graded else (None, 0.0, 0)
    if late > 0:
        reasons.append(f"submitted {_duration(late)} after the due date: "
                       f"late penalty {penalty:g} points")
    return {"status": _status(graded, flagged, lost, len(reasons) - (late > 0), late),
            "reasons": reasons, "scores": scores, "late_penalty": penalty,
            "seconds": round(time.perf_counter() - started, 1)}


def _status(graded, flagged, lost, notes, late):
    """The worst that applies, in the order of STATUSES."""
    if not graded:
        return "failed"
    if flagged:
        return "flagged"
    if lost:
        return "incomplete"
    if notes:
        return "warning"
    return "late" if late > 0 else "ok"


def suspicious_code(course, notebooks):
    """What the code the student wrote does that a TA should look at (tampering.scan)."""
    found = []
    for name, notebook in sorted(notebooks.items()):
        release = nbformat.read(course.folder("release") / f"{name}.ipynb", as_version=4)
        provided = {name for c in release.cells if is_provided(c) for name in top_level_names(c.source)
                    if not name.startswith("_")}
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and (is_solution(cell) or "nbgrader" not in cell.metadata):
                label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{index + 1}"
                found += [f"suspicious code: {name}.ipynb, cell {finding}"
                          for finding in scan(cell.source, provided, label)]
    return found


def read_scores(course, student):
    """({grade_id: [score, max_score]} of every graded cell, the late penalty, seconds late).
    Written answers score None until a TA grades them."""
    scores, penalty, late = {}, 0.0, 0
    with Gradebook(course.db_url) as gradebook:
        try:
            submission = gradebook.find_submission(course.assignment, student)
        except MissingEntry:
            return None, 0.0, 0
        for notebook in sorted(submission.notebooks, key=lambda n: n.name):
            for grade in notebook.grades:
                scores[grade.name] = [grade.score if grade.cell_type == "code" or
                                      grade.manual_score is not None else None, grade.max_score]
        penalty = float(submission.late_submission_penalty or 0)
        late = submission.total_seconds_late or 0
    return scores, penalty, late


def _describe(notebook, events):
    """One line per distinct event, naming every cell it happened in."""
    cells = {}
    for event in events:
        cells.setdefault(event["message"], []).append(event["cell"])
    return [f"{notebook}, {'cell' if len(where) == 1 else 'cells'} {', '.join(where)}: {message}"
            for message, where in cells.items()]


def _converter(course, student, staging, notebook, extra=None):
    config = course.config()
    config.merge(Config(extra or {}))
    config.CourseDirectory.submitted_directory = str(staging.relative_to(course.root))
    config.CourseDirectory.assignment_id = course.assignment
    config.CourseDirectory.student_id = student
    config.CourseDirectory.notebook_id = notebook
    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [GuardedExecute if step is Execute else step
                                                for step in steps]
    converter = BatchAutograde(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    converter.log.setLevel(logging.INFO)
    return converter


def _short(error):
    text = str(error).strip().splitlines()
    return text[-1][:200] if text else type(error).__name__


def _duration(seconds):
    days, rest = divmod(int(seconds), 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"
