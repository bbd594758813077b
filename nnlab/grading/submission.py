"""Grading one submission with nbgrader's Autograde converter, as far as it can be graded.

`grade_submission` runs in its own process (see `batch`): it surveys and stages the submission
(`intake`), then autogrades each notebook separately (so one notebook that nbgrader cannot process
does not cost the other) with the course's nbgrader configuration, whose steps (`steps`) repair,
scan, execute sandboxed and record each notebook, exactly as `nbgrader autograde` does.
"""
import logging
import os
import time

from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from ..grading import intake
from ..results.outcome import outcome
from .steps import write_record

# One kernel per core: numpy's threads would only compete with the other jobs.
THREAD_LIMITS = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def grade_submission(course, student, staging, config=None):
    """Autograde `student`'s submission through `staging` (a folder nbgrader reads instead of
    submitted/), with `config` added to the course's nbgrader configuration.
    Returns the student's outcome (see `outcome.outcome`) and the seconds it took."""
    started = time.perf_counter()
    os.environ.update(THREAD_LIMITS, MPLBACKEND="Agg")
    found = intake.survey(course.folder("release"), course.submission(student))
    intake.stage(found, course.submission(student), staging / student / course.assignment)
    for name in sorted(found.notebooks):
        try:
            _converter(course, student, staging, name, config).start()
        except Exception as error:  # nbgrader could not process this notebook: it scores 0
            write_record(course.root, student, name, {"error": (
                f"{name}.ipynb: nbgrader could not grade it ({short_error(error)}); "
                f"see grading/logs/{student}.log")})
    result = outcome(course, student, ledger={})
    if result["status"] == "not graded":  # not a notebook could be graded
        result.update(status="failed", reasons=found.problems or ["no notebook could be graded"])
    return dict(result, seconds=round(time.perf_counter() - started, 1))


def _converter(course, student, staging, notebook, extra=None):
    config = course.config()
    config.merge(Config(extra or {}))
    config.CourseDirectory.submitted_directory = str(staging.relative_to(course.root))
    config.CourseDirectory.assignment_id = course.assignment
    config.CourseDirectory.student_id = student
    config.CourseDirectory.notebook_id = notebook
    converter = Autograde(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    converter.log.setLevel(logging.INFO)
    return converter


def short_error(error):
    """The last line of an error's text (at most 200 characters), or its type."""
    text = str(error).strip().splitlines()
    return text[-1][:200] if text else type(error).__name__
