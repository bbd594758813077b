"""`nnlab grade`: the whole class, several submissions at once, each in its own process.

The batch process imports nbgrader once and forks a worker per submission (`jobs` at a time), so
a worker starts in milliseconds and whatever a submission does dies with its worker. Workers write
their own student's rows to the gradebook through nbgrader; the batch process alone writes the
ledger. On Ctrl-C the running workers and their kernels are killed and their students recorded as
interrupted, to be graded first by the next run.

With a Dask scheduler (`cluster`, or `c.Cluster.scheduler`), the submissions are graded by the
cluster's workers instead (see `cluster`), with the same ledger, progress and summary.
"""
import logging
import multiprocessing
import os
import signal
import time
from datetime import datetime, timezone
from multiprocessing.connection import wait

from traitlets.config import Config

from ..course import CourseError
from .execution import kill_kernels
from .submission import grade_submission
from .intake import digest
from .late import apply_due_date
from .ledger import GRADED, INTERRUPTED, RUNNING, Ledger, course_key
from ..results.outcome import STATUSES, submitted_students
from .sandbox import SandboxUnavailable, check_sandbox
from . import cluster as on_cluster


def grade_class(course, students=None, jobs=None, force=False, config=None, sandbox=True,
                out=print, cluster=None):
    """Grade the named students (default: every submission) that changed since their last
    grading, or all of them with `force`; `config` adds to nbgrader's configuration, e.g.
    {"Execute": {"timeout": 30}}. Student code runs in the sandbox unless `sandbox` is False.
    `cluster`: the address of a Dask scheduler to grade on (default: the course's, if any).
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
    apply_due_date(course)
    ledger = Ledger(course)
    key = f"{course_key(course)}:{'sandboxed' if sandbox else 'unconfined'}"
    keys = {s: f"{digest(course.submission(s))}:{key}" for s in (students or everyone)}
    todo = [s for s in keys if force or ledger.stale(s, keys[s])]
    if len(todo) < len(keys):
        out(f"{len(keys) - len(todo)} submissions unchanged since their last grading "
            f"(--force grades them again)")
    if not todo:
        return {}
    config = Config(config or {})
    config.GuardedExecute.sandbox = sandbox
    if address:
        report = _reporter(out, len(todo))
        results = on_cluster.run(course, todo, keys, address, ledger, config, out, report)
    else:
        jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
        out(f"grading {len(todo)} submission{'s' * (len(todo) != 1)}, {jobs} at a time")
        results = _run(course, todo, keys, jobs, ledger, config, out)
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


def _run(course, todo, keys, jobs, ledger, config, out):
    context = multiprocessing.get_context("fork")
    queue, running, results = list(todo), {}, {}
    started = time.perf_counter()
    try:
        while queue or running:
            while queue and len(running) < jobs:
                student = queue.pop(0)
                ledger.record(student, {"status": RUNNING, "key": keys[student]})
                receiver, sender = context.Pipe(duplex=False)
                worker = context.Process(target=_work, args=(course, student, config, sender),
                                         daemon=True)
                worker.start()
                sender.close()
                running[worker.sentinel] = (student, worker, receiver)
            for sentinel in wait(list(running)):
                student, worker, receiver = running.pop(sentinel)
                entry = _outcome(worker, receiver)
                ledger.record(student, _ledger_entry(entry, keys[student]))
                results[student] = entry
                _progress(out, len(results), len(todo), student, entry, started, len(running))
    except KeyboardInterrupt:
        for student, worker, _ in running.values():
            worker.terminate()
            worker.join()
            ledger.record(student, {"status": INTERRUPTED, "key": "",
                                    "reasons": ["grading was interrupted; run nnlab grade again"]})
        out(f"\ninterrupted: {len(results)} graded, {len(running) + len(queue)} not graded "
            f"(the next `nnlab grade` grades them)")
        raise
    return results


def _ledger_entry(entry, key):
    """What the ledger keeps of a finished grading: that it finished ("graded") or why nothing
    could be graded ("failed"). The student's status is derived when shown (`outcome`), so it is
    the same whichever door graded them last."""
    if entry["status"] == "failed":
        return {"status": "failed", "reasons": entry.get("reasons", []), "key": key, "graded_at": _now()}
    return {"status": GRADED, "key": key, "graded_at": _now()}


def _work(course, student, config, sender):
    """Worker process: grade one submission, send back its ledger entry."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides what Ctrl-C means
    signal.signal(signal.SIGTERM, lambda *_: (kill_kernels(), os._exit(1)))
    log = course.root / "grading" / "logs" / f"{student}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:  # nbgrader's and the kernel's chatter, kept for the TA
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(message)s")
    try:
        entry = grade_submission(course, student, course.root / "grading" / "intake", config)
    except BaseException as error:  # anything: the batch must go on
        entry = {"status": "failed", "reasons": [f"grader error: {error!r}"]}
    finally:
        kill_kernels()
    sender.send({k: v for k, v in entry.items() if k != "auto"})
    sender.close()
    os._exit(0)  # skip the parent's atexit handlers, inherited by fork


def _outcome(worker, receiver):
    worker.join()
    if receiver.poll():
        return receiver.recv()
    return {"status": "failed", "scores": None,
            "reasons": [f"the grading process ended without a result (exit code {worker.exitcode})"]}


def _progress(out, done, total, student, entry, started, running):
    scores = entry.get("scores") or {}
    got = "held" if entry.get("held") else \
        f"{sum(s for s, _ in scores.values() if s is not None) - entry.get('late_penalty', 0):g}"
    top = sum(m for _, m in scores.values())
    elapsed = time.perf_counter() - started
    left = elapsed / done * (total - done)
    out(f"[{done:>{len(str(total))}}/{total}] {student:<28} {entry['status']:<10} "
        f"{got:>5}/{top:<3g} {entry.get('seconds', 0):>5.1f} s   (~{left / 60:.0f} min left)")


def _reporter(out, total):
    """A progress line per finished submission, for graders that report one at a time."""
    started, done = time.perf_counter(), []

    def report(student, entry, running):
        done.append(student)
        _progress(out, len(done), total, student, entry, started, running)
    return report


def _summary(results, out):
    counts = {status: sum(e["status"] == status for e in results.values()) for status in STATUSES}
    out("\n" + ", ".join(f"{n} {status}" for status, n in counts.items() if n))
    for student, entry in sorted(results.items()):
        for reason in entry.get("reasons", []) if entry["status"] != "ok" else []:
            out(f"  {student}: {reason}")


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
