"""`nnlab grade`: the whole class, several submissions at once, each in its own process.

The batch process imports nbgrader once and forks a worker per submission (`jobs` at a time), so
a worker starts in milliseconds and whatever a submission does dies with its worker. Workers grade
against gradebooks of their own (`transfer`); the batch process alone opens the course's gradebook,
once, and writes each student's graded rows there in one transaction, and it alone writes the
ledger. On Ctrl-C the running workers and their kernels are killed and their students recorded as
interrupted, to be graded first by the next run.

With a Dask scheduler (`cluster`, or `c.Cluster.scheduler`), the submissions are graded by the
cluster's workers instead (see `cluster`), with the same ledger, progress and summary.
"""
import os
import time
from multiprocessing.connection import wait

from nbgrader.api import Gradebook
from traitlets.config import Config

from ..confinement.sandbox import SandboxUnavailable, check_sandbox
from ..course import CourseError, counted
from ..status import STATUSES, Status
from ..steps.intake import digest
from ..steps.late import apply_due_date
from . import cluster as on_cluster
from . import transfer
from .ledger import Ledger, course_key
from .outcome import submitted_students
from .submission import Grading


def grade_class(course, students=None, jobs=None, force=False, config=None, sandbox=True,
                out=print, cluster=None):
    """Grade the named students (default: every submission) that changed since their last
    grading, or all of them with `force`; `config` adds to nbgrader's configuration, e.g.
    {"Execute": {"timeout": 30}}. Student code runs in the sandbox unless `sandbox` is False.
    {"GuardedExecute": {"full": True}} runs the experiment cells too (regrading everyone, as a
    changed course would). `cluster`: the address of a Dask scheduler to grade on (default: the
    course's, if any).
    Returns {student: ledger entry} of those graded."""
    everyone = _check(course, students)
    address = on_cluster.scheduler_address(course, cluster)
    if not sandbox:
        out("WARNING: grading without the sandbox: student code runs with your rights")
    elif not address:  # a cluster's workers check their own sandbox
        try:
            check_sandbox()
        except SandboxUnavailable as error:
            raise CourseError(str(error)) from None
    ledger = Ledger(course)
    config = Config(config or {})
    config.GuardedExecute.sandbox = sandbox
    key = (f"{course_key(course)}:{'sandboxed' if sandbox else 'unconfined'}"
           f"{':full' if config.GuardedExecute.get('full') else ''}")
    keys = {s: f"{digest(course.submission(s))}:{key}" for s in (students or everyone)}
    todo = [s for s in keys if force or ledger.stale(s, keys[s])]
    if len(todo) < len(keys):
        out(f"{counted(len(keys) - len(todo), 'submission')} unchanged since their last grading "
            f"(--force grades them again)")
    if not todo:
        return {}
    results, report = {}, _reporter(out, len(todo))
    # the batch's one opening of the course's gradebook: each grading works on its own
    with Gradebook(course.db_url) as gradebook:
        apply_due_date(course, gradebook)
        try:
            if address:
                on_cluster.run(course, gradebook, todo, keys, address, ledger, config, out, report,
                               results)
            else:
                jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
                out(f"grading {counted(len(todo), 'submission')}, {jobs} at a time")
                _run(course, gradebook, todo, keys, jobs, ledger, config, report, results)
        except KeyboardInterrupt:
            out(f"\ninterrupted: {len(results)} graded, {len(todo) - len(results)} not graded "
                f"(the next `nnlab grade` grades them)")
            raise
    _summary(results, out)
    return results


def _check(course, students):
    if not course.folder("source").is_dir():
        raise CourseError(f"no assignment {course.assignment!r} under {course.root / 'source'}")
    if not course.notebooks("release"):
        raise CourseError("the assignment is not released yet: run `nnlab release` first")
    course.check_gradebook()
    everyone = submitted_students(course)
    if not everyone:
        raise CourseError(f"no submissions under {course.root / 'submitted'}/<student>/"
                          f"{course.assignment}/")
    unknown = sorted(set(students or ()) - set(everyone))
    if unknown:
        raise CourseError(f"no submission for: {', '.join(unknown)}")
    return everyone


def _run(course, gradebook, todo, keys, jobs, ledger, config, report, results):
    """Grade `todo` in forked processes, `jobs` at a time, into `results` ({student: entry}) and
    the course's open `gradebook`; `report(student, entry)` shows progress."""
    queue, running = list(todo), {}
    template = transfer.assignment_gradebook(gradebook, course.assignment)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                student = queue.pop(0)
                ledger.running(student, keys[student])
                grading = Grading(course, student, config, template,
                                  transfer.shipped_rows(gradebook, course.assignment, student))
                running[grading.connection] = grading
            for ready in wait(list(running)):
                grading = running.pop(ready)
                try:
                    entry, rows = grading.result()
                    if rows:
                        transfer.write_student_rows(gradebook, course.assignment, grading.student,
                                                    rows, before=grading.shipped)
                except KeyboardInterrupt:  # its rows are written whole or not at all
                    ledger.interrupted(grading.student)
                    raise
                ledger.finished(grading.student, entry, keys[grading.student])
                results[grading.student] = entry
                report(grading.student, entry)
    except KeyboardInterrupt:
        for grading in running.values():
            grading.stop()
            grading.result()
            ledger.interrupted(grading.student)
        raise


def _reporter(out, total):
    """report(student, entry): a progress line per finished submission."""
    started, done = time.perf_counter(), []

    def report(student, entry):
        done.append(student)
        scores = entry.get("scores") or {}
        got = "held" if entry.get("held") else \
            f"{sum(s for s, _ in scores.values() if s is not None) - entry.get('late_penalty', 0):g}"
        top = sum(m for _, m in scores.values())
        left = (time.perf_counter() - started) / len(done) * (total - len(done))
        out(f"[{len(done):>{len(str(total))}}/{total}] {student:<28} {entry['status']:<10} "
            f"{got:>5}/{top:<3g} {entry.get('seconds', 0):>5.1f} s   (~{left / 60:.0f} min left)")
    return report


def _summary(results, out):
    counts = {status: sum(e["status"] == status for e in results.values()) for status in STATUSES}
    out("\n" + ", ".join(f"{n} {status}" for status, n in counts.items() if n))
    for student, entry in sorted(results.items()):
        for reason in entry.get("reasons", []) if entry["status"] != Status.OK else []:
            out(f"  {student}: {reason}")
