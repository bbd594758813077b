"""Grading one submission with nbgrader's Autograde converter, as far as it can be graded.

`grade_submission` surveys and stages the submission (`intake`), then autogrades each notebook
separately (so one notebook that nbgrader cannot process does not cost the other) with the
course's nbgrader configuration, whose steps (`nnlab.steps`) repair, scan, execute sandboxed and record
each notebook, exactly as `nbgrader autograde` does. It runs in a process of its own
(`Grading`), forked by a local batch (`batch`) or by a cluster's worker (`cluster`), against a
gradebook of its own (`transfer.private_gradebook`): the process that forked it writes the
student's graded rows into the course's gradebook, in one transaction.
"""
import ctypes
import logging
import multiprocessing
import os
import signal
import time

from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from .. import THREAD_LIMITS
from ..course import Course, error_line
from ..status import Status, failed
from ..steps import intake
from ..steps.autograde import write_record, write_survey
from ..steps.execution import kill_kernels
from . import transfer
from .outcome import outcome


def grade_submission(course, student, staging, config=None):
    """Autograde `student`'s submission through `staging` (a folder nbgrader reads instead of
    submitted/), with `config` added to the course's nbgrader configuration.
    Returns the student's outcome (see `outcome.outcome`) and the seconds it took."""
    started = time.perf_counter()
    os.environ.update(THREAD_LIMITS, MPLBACKEND="Agg")  # one kernel per core, as sandboxed kernels
    release, submission = course.folder("release"), course.submission(student)
    key = intake.survey_key(release, submission)  # first: a change meanwhile makes the survey stale
    found = intake.survey(release, submission)
    write_survey(course.root, student, found, key)
    intake.stage(found, submission, staging / student / course.assignment)
    for name in sorted(found.notebooks):
        try:
            _converter(course, student, staging, name, config).start()
        except Exception as error:  # nbgrader could not process this notebook: it scores 0
            write_record(course.root, student, name, {"error": (
                f"{name}.ipynb: nbgrader could not grade it ({error_line(error, last=True)}); "
                f"see grading/logs/{student}.log")})
    result = outcome(course, student, ledger={})
    if result["status"] == Status.NOT_GRADED:  # not a notebook could be graded
        result.update(failed(found.problems or ["no notebook could be graded"]))
    return dict(result, seconds=round(time.perf_counter() - started, 1))


def grade_apart(course, student, template, shipped, config=None):
    """Grade `student`'s submission against a gradebook of its own, made from `template` and the
    student's `shipped` rows of the course's gradebook (see `transfer`): (the outcome, the graded
    rows to write into the course's gradebook, None when nothing could be graded)."""
    with transfer.private_gradebook(template, course.assignment, student, shipped) as db_url:
        apart = Course(course.root, course.assignment, db_url=db_url)
        entry = grade_submission(apart, student, course.root / "grading" / "intake", config)
        if entry["status"] == Status.FAILED:
            return entry, None
        return entry, transfer.graded_rows(db_url, course.assignment, student, shipped)


def _converter(course, student, staging, notebook, extra=None):
    config = course.config()
    config.merge(Config(extra or {}))
    config.CourseDirectory.db_url = course.db_url  # the course's, or the grading's own
    config.CourseDirectory.submitted_directory = str(staging.relative_to(course.root))
    config.CourseDirectory.assignment_id = course.assignment
    config.CourseDirectory.student_id = student
    config.CourseDirectory.notebook_id = notebook
    converter = Autograde(coursedir=CourseDirectory(config=config), config=config)
    converter.force = True
    converter.log.setLevel(logging.INFO)
    return converter


class Grading:
    """One submission graded in a process forked for it (`grading_process`, see `grade_apart`),
    by the local batch and by a cluster's worker alike: whatever the submission does dies with
    that process, which dies with the process that forked it. `connection` is ready (for
    `multiprocessing.connection.wait`) once the grading is over."""

    def __init__(self, course, student, config, template, shipped):
        self.student = student
        self.shipped = shipped  # the rows the grading starts from
        self.connection, sender = multiprocessing.Pipe(duplex=False)
        self._pid = os.fork()
        if self._pid == 0:  # the child: it never returns into the caller's code
            try:
                self.connection.close()
                _die_with_parent()
                grading_process(course, student, config, template, shipped, sender)  # os._exit
            finally:
                os._exit(1)
        sender.close()

    def stop(self):
        """Stop the grading; its kernels die with it (`result` then says there is none)."""
        os.kill(self._pid, signal.SIGTERM)

    def result(self):
        """Wait for the process: (the student's outcome, or why there is none; the graded rows,
        or None)."""
        try:
            entry, rows = self.connection.recv()
        except EOFError:
            entry, rows = None, None
        finally:
            self.connection.close()
            code = os.waitstatus_to_exitcode(os.waitpid(self._pid, 0)[1])
        if entry is None:
            return failed([f"the grading process ended without a result (exit code {code})"]), None
        return entry, rows


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def grading_process(course, student, config, template, shipped, sender):
    """The body of a process forked to grade one submission (`grade_apart`): its output goes to
    the student's log, its outcome and graded rows through `sender`; it never returns."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides what Ctrl-C means
    signal.signal(signal.SIGTERM, lambda *_: (kill_kernels(), os._exit(1)))
    log = course.root / "grading" / "logs" / f"{student}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:  # nbgrader's and the kernel's chatter, kept for the TA
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(message)s")
    rows = None
    try:
        entry, rows = grade_apart(course, student, template, shipped, config)
    except BaseException as error:  # anything: the batch must go on
        entry = failed([f"grader error: {error!r}"])
    finally:
        kill_kernels()
    sender.send(({k: v for k, v in entry.items() if k != "auto"}, rows))
    sender.close()
    os._exit(0)  # skip the parent's atexit handlers, inherited by fork

