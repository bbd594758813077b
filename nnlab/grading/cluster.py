"""`nnlab grade --cluster tcp://HOST:8786`: every submission graded by a worker of a running Dask
cluster, one task per submission.

Workers share nothing with the TA's machine but the network. A task carries what grading needs:
the course files (nbgrader_config.py, source/ and release/ of the assignment, scattered once per
batch), a gradebook holding only the assignment (built once per batch), the student's submitted
files and the student's rows of the course's gradebook (earlier manual grades, review decisions).
On the worker it builds a course root in a temporary folder and grades it with the same code as
local grading (`submission.grade_submission`, in a forked process): nbgrader's Autograde with the
course's nbgrader_config.py and its steps (`nnlab.steps`: repairs, scan, sandboxed and guarded execution,
records), each kernel claiming a sandbox identity of its own on the worker's machine
(`sandbox.claim_identity`), against a gradebook of the grading's own, as local grading does
(`transfer`). It returns the autograded notebooks, the records, the log and the student's graded
rows, which the TA's side writes into the course root and, in one transaction per student, into
the course's gradebook (SQLite or PostgreSQL) through nbgrader's API. Statuses are then derived on
the TA's side, as for local grading.

Faults: a worker that cannot build the sandbox never gets the resource that grading tasks require
(`SandboxCheck`), and says why; a task whose worker dies is run again once (the scheduler's
allowed-failures is set to 1), then recorded as failed; a lost scheduler stops the batch, its
students in flight recorded as interrupted.
"""
import logging
import os
import shutil
import stat
import tempfile
import time
from multiprocessing.connection import wait
from pathlib import Path

from traitlets import Unicode
from traitlets.config import Configurable

from ..confinement.sandbox import SandboxUnavailable, check_sandbox
from ..course import Course, CourseError, counted, discard_feedback, error_line
from ..status import failed
from ..steps import provided
from ..steps.autograde import records_folder
from . import transfer
from .submission import Grading

try:
    from distributed import WorkerPlugin
except ImportError:  # the [cluster] extra is not installed: `connect` says so
    WorkerPlugin = object

RESOURCE = "nnlab-sandbox"  # held by workers whose sandbox works: one unit per thread
PLUGIN = "nnlab-sandbox-check"


class Cluster(Configurable):
    """`c.Cluster.scheduler` in nbgrader_config.py: the Dask scheduler `nnlab grade` sends the
    submissions to ("" grades on this machine). Not a grading setting: changing it regrades
    nothing."""

    scheduler = Unicode("", help="address of a running Dask scheduler, e.g. tcp://host:8786"
                        ).tag(config=True)


def scheduler_address(course, given=None):
    """The scheduler to use: `given` (the command line), else the course's, else None."""
    return given or Cluster(config=course.config()).scheduler or None


def run(course, gradebook, todo, keys, address, ledger, config, out, report, results):
    """Grade `todo` on the cluster at `address` into `results` ({student: entry}) and the course's
    open `gradebook`, as a local batch does; `report(student, entry)` shows progress."""
    client = connect(address)
    try:
        slots = _usable_threads(client, config.GuardedExecute.sandbox, out)
        out(f"grading {counted(len(todo), 'submission')} on the Dask cluster at {address} "
            f"({slots} workers' threads)")
        _grade_all(client, address, course, gradebook, todo, keys, ledger, config, slots, report,
                   results)
    finally:
        if client.status != "running":  # the scheduler is gone: closing cuts the client's
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)  # retries, noisily
        client.close()


def connect(address):
    try:
        from distributed import Client
    except ImportError:
        raise CourseError("grading on a cluster needs Dask: pip install 'nnlab[cluster]'") from None
    try:
        client = Client(address, timeout=20, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise CourseError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    # A submission whose worker dies is graded again elsewhere once; a second death fails it.
    client.run_on_scheduler(_allow_one_failure)
    return client


def _allow_one_failure(dask_scheduler):
    dask_scheduler.allowed_failures = 1


def _usable_threads(client, sandbox, out):
    """Threads of the workers that can grade; says which refuse, and why. Raises CourseError
    when none can."""
    if not sandbox:
        return sum(client.nthreads().values()) or 1
    client.register_plugin(SandboxCheck(), name=PLUGIN)
    verdicts = client.run(_verdict)
    for worker, why in sorted(verdicts.items()):
        if why:
            out(f"worker {worker} refuses to grade: {why}")
    usable = sum(n for worker, n in client.nthreads().items() if not verdicts.get(worker))
    if not usable:
        raise CourseError("no worker of the cluster can build the sandbox (see above): fix "
                          "that on the workers, or grade with --no-sandbox")
    return usable


def _grade_all(client, address, course, gradebook, todo, keys, ledger, config, slots, report,
               results):
    from distributed import as_completed

    queue, futures = list(todo), {}
    restriction = {RESOURCE: 1} if config.GuardedExecute.sandbox else None
    shared = client.scatter(_course_bundle(course, gradebook), broadcast=False)
    pending = as_completed(loop=client.loop)

    def submit_more():  # a bounded window: submissions are shipped as workers free up
        while queue and len(futures) < 2 * slots:
            student = queue.pop(0)
            ledger.running(student, keys[student])
            rows = transfer.shipped_rows(gradebook, course.assignment, student)
            files = transfer.pack(course.root, [course.submission(student).relative_to(course.root)])
            future = client.submit(grade_remote, shared, student, files, rows, config,
                                   key=f"nnlab-grade-{student}-{time.time_ns()}", pure=False,
                                   retries=1, resources=restriction)
            futures[future] = student, rows
            pending.add(future)

    try:
        submit_more()
        for future in pending:
            student, shipped = futures[future]
            entry = _collect(course, gradebook, student, shipped, future)
            del futures[future]  # only now: a student whose results are not in is in flight
            ledger.finished(student, entry, keys[student])
            results[student] = entry
            report(student, entry)
            submit_more()
    except BaseException as error:
        _stop(client, futures, ledger)
        if isinstance(error, _SchedulerLost):
            raise CourseError(f"lost the Dask scheduler at {address}: "
                              f"{len(results)} graded; "
                              f"the {len(futures) + len(queue)} others are not graded: run "
                              f"nnlab grade again") from None
        raise


class _SchedulerLost(Exception):
    pass


def _collect(course, gradebook, student, shipped, future):
    """The finished task's files and rows into the course; the student's outcome, as the worker's
    grading decided it from the same files and rows."""
    from distributed.client import FutureCancelledError

    try:
        result = future.result()
    except FutureCancelledError:  # nnlab cancels only when it stops: the scheduler cancelled it
        raise _SchedulerLost() from None
    except Exception as error:  # the task itself failed, twice (e.g. its workers died)
        return failed([f"grading on the cluster failed: {type(error).__name__}: "
                       f"{error_line(error, last=True)}"])
    _write_files(course, student, result["files"])
    if result["rows"]:  # none when nothing was graded: the ledger says why
        transfer.write_student_rows(gradebook, course.assignment, student, result["rows"], before=shipped)
    return dict(result["entry"], worker=result["worker"])


def _write_files(course, student, files):
    """Replace the student's autograded folder and records with the worker's, keep its log; the
    feedback made from the old ones is stale (the worker discarded only its own copy's)."""
    for folder in (course.root / "autograded" / student,
                   records_folder(course.root, student)):
        shutil.rmtree(folder, ignore_errors=True)
    transfer.unpack(files, course.root)
    discard_feedback(course.coursedir(), course.assignment, student,
                     [path.stem for path in course.notebooks("release")])


def _stop(client, futures, ledger):
    """Ctrl-C or a lost scheduler: the students in flight are interrupted."""
    try:
        client.cancel(list(futures), force=True)
    except Exception:  # the scheduler may be gone
        pass
    for student, _ in futures.values():
        ledger.interrupted(student)


def _course_bundle(course, gradebook):
    """What every task needs of the course: its files and a gradebook holding the assignment."""
    files = transfer.pack(course.root, ["nbgrader_config.py",
                                        course.folder("source").relative_to(course.root),
                                        course.folder("release").relative_to(course.root)])
    return {"assignment": course.assignment, "files": files,
            "gradebook": transfer.assignment_gradebook(gradebook, course.assignment)}


# ------------------------------------------------------------------ the worker's side

class SandboxCheck(WorkerPlugin):
    """Worker plugin: gives the worker the resource grading tasks require only if it can build
    the sandbox; otherwise keeps the reason, which `nnlab grade` prints. (Unpickling it imports
    this module, and with it nbgrader, once per worker rather than once per forked grading.)"""

    verdict = "not checked yet"

    async def setup(self, worker):
        import asyncio

        self.verdict = await asyncio.get_running_loop().run_in_executor(None, _prepare_worker)
        if not self.verdict:
            await worker.set_resources(**{RESOURCE: worker.state.nthreads})


def _prepare_worker():
    """'' if this worker can grade sandboxed, else why not."""
    try:
        check_sandbox()
    except SandboxUnavailable as error:
        return str(error)
    return ""


def _verdict(dask_worker):
    plugin = dask_worker.plugins.get(PLUGIN)
    return plugin.verdict if plugin is not None else "the sandbox check did not run"


def grade_remote(shared, student, files, rows, config):
    """The task: grade one submission in a temporary course root on this worker."""
    root = Path(tempfile.mkdtemp(prefix="nnlab-cluster-"))
    try:
        transfer.unpack(shared["files"], root)
        transfer.unpack(files, root)
        store = worker_store()
        if store is not None:  # the provided runs, recorded once for every task on this machine
            provided.store_of(root).parent.mkdir(parents=True, exist_ok=True)
            provided.store_of(root).symlink_to(store, target_is_directory=True)
        # the course's own gradebook is not this machine's to open: the grading makes one
        course = Course(root, shared["assignment"], db_url="sqlite://")
        return _grade_here(course, student, shared["gradebook"], rows, config)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def worker_store():
    """This machine's folder of recorded provided runs (`steps.provided`), shared by the tasks
    that graders of this user run here, or None if it is not this user's alone."""
    store = Path(tempfile.gettempdir()) / f"nnlab-provided-runs-{os.getuid()}"
    store.mkdir(mode=0o700, exist_ok=True)
    found = store.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        return None
    return store


def _grade_here(course, student, template, shipped, config):
    from distributed import get_worker

    entry, graded = _in_child(course, student, config, template, shipped)
    keep = [Path("autograded") / student, records_folder(course.root, student).relative_to(course.root),
            Path("grading") / "logs" / f"{student}.log"]
    return {"entry": entry, "rows": graded, "files": transfer.pack(course.root, keep),
            "worker": get_worker().address}


def _in_child(course, student, config, template, shipped):
    """Grade in a forked process, as a local batch does: (outcome, graded rows); a task the
    scheduler let go of (Ctrl-C on the TA's side) stops it."""
    grading = Grading(course, student, config, template, shipped)
    stopped = False
    while not wait([grading.connection], timeout=1):
        if not stopped and _task_cancelled():
            grading.stop()
            stopped = True
    return grading.result()


def _task_cancelled():
    """Whether the scheduler let go of the task this thread runs (Ctrl-C on the TA's side)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        task = get_worker().state.tasks.get(thread_state.key)
        return task is None or task.state in ("cancelled", "released", "forgotten")
    except Exception:  # not in a worker's task thread
        return False
