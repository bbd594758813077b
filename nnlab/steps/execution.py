"""nbgrader's Execute preprocessor, made safe for batch grading.

Plain `Execute` lets one submission fail as a whole: a kernel that dies (`os._exit`), or a cell
that ignores the timeout interrupt, raises out of the notebook and every cell scores nothing.
`GuardedExecute` grades as far as the notebook gets: a runaway or dead kernel is killed, the cell
that ran it and every later code cell get an error output saying why (so their tests score 0), and
what happened is kept in `events` for the grading status. It also sets a time budget for the
whole notebook and caps the bytes of output kept per cell.

Test cells never run in the student's kernel: the judge (`nnlab.judge`) runs them in a process of
its own, with the course's code from the assignment's release folder, and calls the student's
functions in the kernel through a channel that carries plain data only. The cell's outputs are
the judge's: what it printed (with what student code printed or warned during a call) on stdout,
and its verdict as an error if the test failed. Nothing the kernel displays or sends reaches a
test cell, so nbgrader's scoring of the outputs reads the judge's verdict alone.

Only the graded path runs: the course's experiment cells (provided cells tagged "experiment",
plots and timings that earn no points and feed no test) keep the outputs the student's notebook
showed (`intake.keep_experiment_outputs`), marked as such, and the runs of provided code that are
the same in every notebook are read from the course's records (`provided`), unless `full` is set.

Time limits (the per-cell `Execute.timeout` and the notebook's `time_budget`) count the kernel's
own time (`kernelclock`: CPU time of all its processes and its own waiting), never the time a busy
machine kept it waiting for a CPU. Wall-clock limits `wall_factor` times longer stay as a backstop;
a notebook stopped by one is the machine's doing: it is graded again once, and if the machine
stops it again, its record says "busy" and no cell after the stop is charged to the student.
"""
import asyncio
import contextlib
import copy
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
from pathlib import Path
from time import monotonic, sleep

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import from_dict
from nbformat.v4 import new_output
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Bool, Float, Integer, Unicode

from ..confinement.kernelclock import KernelClock
from ..confinement.sandbox import SandboxedKernelManager, kernel_environment
from ..judge.channel import TRUNCATED
from ..judge.client import Judge, Unanswered, answer_text, defined_function, definitions, \
    install_code, serve_code
from ..status import BUSY_EVENT
from . import provided
from .intake import KEY, SUBMITTED_OUTPUTS, is_provided, release_folder

NOT_RUN = "NotRun"
TIMEOUT = "CellTimeoutError"
SAMPLE_SECONDS = 0.2  # how often a running cell's kernel time is read
ANSWER_LIMIT = 1 << 31  # bytes of one answer line from the kernel (arrays of megabytes cross)
NOT_RE_RUN = ("[Your notebook's own output, as you submitted it: this cell (plots, an experiment) earns "
              "no points and was not run again at grading.]\n")
# Process groups of the running kernels started in this process, and their judges, for
# `kill_kernels`; how long it waits for them to be gone.
KERNEL_GROUPS = set()
JUDGES = set()
KILL_WAIT = 5.0


class GuardedExecute(Execute):
    """Execute a notebook within a time budget and an output cap, never raising for the kernel's
    sake: see the module docstring."""

    time_budget = Integer(600, help="seconds of the kernel's own time (CPU time and its own "
                          "waiting) the notebook's cells may take in all").tag(config=True)
    wall_factor = Float(10.0, help="wall-clock backstop: a cell (the notebook) is stopped after "
                        "this many times its limit in wall-clock time; such a stop is the "
                        "machine's, not the student's").tag(config=True)
    interrupt_grace = Integer(10, help="seconds of its own time an interrupted cell may still take "
                              "before its kernel is killed as deaf to the interrupt").tag(config=True)
    output_limit = Integer(1_000_000, help="bytes of output kept per cell; the rest is dropped"
                           ).tag(config=True)
    sandbox = Bool(True, help="run the kernel confined (see nnlab.confinement.sandbox)").tag(config=True)
    full = Bool(False, help="run the course's experiment cells too and compute the provided runs "
                "in every kernel (`nnlab grade --full`); by default experiments keep the outputs "
                "the student submitted and provided runs are read from their record").tag(config=True)
    provided_runs = Unicode("", help="module of the course's code that records the runs of "
                            "provided code every notebook makes alike (see nnlab.steps.provided); "
                            "empty: every kernel computes them").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.sandbox:  # nbgrader's Execute passes its own kernel manager class to nbclient
            self.kernel_manager_class = SandboxedKernelManager

    def preprocess(self, nb, resources=None, km=None):
        """Execute; a notebook the machine stopped (see the module docstring) once more."""
        original = copy.deepcopy(nb)
        nb, resources = self._in_scratch_folder(nb, resources, km)
        if any(event["kind"] == BUSY_EVENT for event in self.events):
            self.log.warning("the machine was too busy to grade this notebook: grading it again")
            nb, resources = self._in_scratch_folder(original, resources, km)
        return nb, resources

    def _in_scratch_folder(self, nb, resources, km):
        """Execute in a scratch copy of the notebook's folder without its notebooks: the
        autograded notebooks there hold the hidden tests, which student code must not read."""
        folder = Path(resources["metadata"]["path"])
        release = self._release_folder(resources)  # None: not inside an nbgrader grading
        self._course_files = release or folder
        with tempfile.TemporaryDirectory(prefix="nnlab-work-") as scratch:
            os.chmod(scratch, 0o755)  # bwrap enters it before switching to the kernel's uid
            for entry in folder.iterdir():
                if entry.suffix != ".ipynb":
                    copy = shutil.copytree if entry.is_dir() else shutil.copy2
                    copy(entry, Path(scratch) / entry.name)
            if self.provided_runs and not self.full and release is not None:
                self._place_provided_runs(Path(scratch))
            resources["metadata"]["path"] = scratch
            try:
                return self._execute(nb, resources, km)
            finally:
                resources["metadata"]["path"] = str(folder)

    def _place_provided_runs(self, scratch):
        """Put the course's recorded provided runs in the kernel's working folder, recorded in
        the environment the kernel gets (numerics depend on it)."""
        environment = kernel_environment() if self.sandbox else dict(os.environ)
        folder = provided.prepared(self._course_files, self.provided_runs, environment,
                                   CourseDirectory(config=self.config).root, self.log)
        if folder is not None:
            provided.place(folder, scratch)

    def _execute(self, nb, resources, km):
        self.events = []  # [{"kind", "cell", "message"}], in the order they happened
        self._stopped = None  # why the kernel is gone, once it is
        self._deadline = monotonic() + self.wall_factor * self.time_budget  # the backstop
        self._clock = None  # the kernel's own time, from its first cell on
        self._verdict = None  # the running cell's: None, "limit" (interrupted), "deaf" (killed)
        self._backstop_hit = False  # whether the running cell met its wall-clock backstop
        self._kept = {}  # cell index -> bytes of output kept
        # the judge's process: started now, it imports the course's code while the kernel starts
        self._judge = Judge.start(self._course_files)
        JUDGES.add(self._judge)
        self._group = None  # the kernel's process group, once it started
        self._channel = False  # whether the channel's end is installed in the kernel
        self._socket = None  # (reader, writer, the serving request's reply) during a test cell
        self._defined = 0  # cells before this index gave the judge their definitions
        self._cell_index = None  # the cell running now
        self._limit_noted = None  # the whole-kernel limit hit last noted in `events`
        self._submitted = {} if self.full else nb.metadata.get(KEY, {}).get(SUBMITTED_OUTPUTS, {})
        self.confinement = None  # the sandbox's limits in force (None: not sandboxed)
        try:
            return super().preprocess(nb, resources, km)
        finally:  # for autograde.RecordOutcome
            if self._judge is not None:
                self._judge.kill()
                JUDGES.discard(self._judge)
            KERNEL_GROUPS.discard(self._group)  # shut down by nbclient by now
            resources["nnlab"] = {"events": self.events, "sandbox": self.sandbox,
                                  "confinement": self.confinement or ""}

    async def async_start_new_kernel(self, **kwargs):
        """Start the kernel, its process group known from now on: a batch stopped before its
        first cell kills it too."""
        await super().async_start_new_kernel(**kwargs)
        self._group = self.km.provisioner.pgid
        KERNEL_GROUPS.add(self._group)

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient binds its own otherwise

    def _get_timeout(self, cell):
        """The wall-clock backstop of a cell, within the notebook's."""
        limit = self._cell_limit()
        remaining = max(1, int(self._deadline - monotonic()))
        return remaining if limit is None else min(int(self.wall_factor * limit) + 1, remaining)

    def _cell_limit(self):
        """Seconds of its own time the next cell may take: the per-cell timeout, within what is
        left of the notebook's budget (None: no limit)."""
        timeout = super()._get_timeout(None)
        left = max(1.0, self.time_budget - (self._clock.own if self._clock else 0.0))
        return left if timeout is None else min(timeout, left)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell
        kept = self._submitted.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if kept is not None and is_provided(cell):  # an experiment: not run again
            cell.outputs = [new_output("stream", name="stdout", text=NOT_RE_RUN)] + [
                from_dict(output) for output in kept]
            return cell
        if self._stopped is None and self._clock and self._clock.own >= self.time_budget:
            self._stop(cell, cell_index, "budget", f"the notebook used up its time budget "
                       f"({self.time_budget} s) before this cell")
        if self._stopped is None and monotonic() >= self._deadline:
            self._stop(cell, cell_index, BUSY_EVENT, self._busy_message("the notebook's", self.time_budget))
        if self._stopped is not None:
            cell.outputs = [_error(NOT_RUN, f"not run: {self._stopped}")]
            return cell
        self.confinement = getattr(self.km, "confinement", None)
        judged = is_grade(cell)
        self._cell_index = cell_index
        limit = self._cell_limit()
        budget_bound = limit < (super()._get_timeout(None) or float("inf"))
        self._verdict, self._backstop_hit = None, False
        if self._clock is None:
            self._clock = KernelClock(self.km.provisioner.process.pid, getattr(self.km, "group", None))
        self._clock.resume()  # the time between cells is the grader's
        if judged:  # and during a test, the time the kernel does not spend answering the judge
            self._clock.pause()
        watch = asyncio.ensure_future(self._watch_cell(limit))
        try:
            if judged:  # nbclient's timeout does not reach the judge: the backstop is ours
                try:
                    await asyncio.wait_for(self._judged(cell, cell_index), self._get_timeout(cell))
                except asyncio.TimeoutError:
                    raise CellTimeoutError("the test met its wall-clock backstop") from None
            else:
                await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            if self._verdict == "deaf":
                self._stop(cell, cell_index, "killed", self._deaf_message(budget_bound))
            else:
                self._stop(cell, cell_index, "died", self._limit_message(deadly=True) or "the kernel "
                           "died while running this cell (os._exit, a crash, or a resource limit)")
            return cell
        except CellTimeoutError:  # the backstop's interrupt went unanswered, or a test outlived it
            # before the kernel spent interrupt_grace of its own time after an interrupt (which
            # would have made it deaf, above): the machine kept it from answering
            await self._kill_kernel()
            self._stop(cell, cell_index, BUSY_EVENT, self._busy_message("the cell's", limit))
            return cell
        finally:
            watch.cancel()
        self._after(cell, cell_index, budget_bound, limit)
        self._note_limit(cell, cell_index)
        return cell

    async def _judged(self, cell, cell_index):
        """Run a test cell in the judge, after the course definitions of the cells above it."""
        cell.outputs = []
        course = "\n\n".join(definitions(c.source) for c in self.nb.cells[self._defined:cell_index]
                              if is_provided(c))
        self._defined = cell_index
        if course.strip():
            cell.outputs += [from_dict(out) for out in await self._judge.define(course)]
        if any(out.output_type == "error" for out in cell.outputs):
            return
        try:
            outputs = await self._judge.run(cell.source, self._ask)
        finally:
            await self._close_socket()
        cell.outputs += [from_dict(out) for out in outputs]

    async def _ask(self, request):
        """Answer one request of the judge in the kernel; a student function the test calls that
        the notebook defines only further down is defined first (its `def` alone)."""
        if not self._channel:
            self._channel = await self._request_reply(install_code()) is not None
        text = await self._request(request)
        missing = re.fullmatch(r"name '(\w+)' is not defined", _error_message(text, "NameError"))
        source = missing and self._later_definition(missing.group(1))
        if request["op"] == "call" and source:
            await self._request({"op": "define", "name": missing.group(1), "source": source})
            text = await self._request(request)
        return text

    async def _request(self, request):
        """The kernel's reply text to one request; counted as the kernel's own time."""
        self._clock.resume()
        try:
            if self._socket is None:
                await self._open_socket()
            text = await self._socket_request(json.dumps({**request, "print_limit": self.output_limit}))
        finally:
            self._clock.pause()
        if TRUNCATED in text and self._kept.get(self._cell_index, 0) <= self.output_limit:
            self._kept[self._cell_index] = self.output_limit + 1  # noted once per cell
            self._note(self.nb.cells[self._cell_index], self._cell_index, "output",
                       f"output over {self.output_limit:,} bytes was dropped")
        return text

    async def _open_socket(self):
        """Start the kernel's end of the channel for the running test cell: one execute request
        that answers every request of the cell over a unix socket in the kernel's /tmp, which the
        grader reaches through the sandbox's root."""
        path = f"/tmp/nnlab-channel-{secrets.token_hex(8)}.sock"
        # a user expression, which the kernel evaluates as it is: the student's input
        # transformers rewrite the code of an execute request, not its expressions
        serving = asyncio.ensure_future(self._request_reply("pass", serve=serve_code(path)))
        where = getattr(self.km, "root_prefix", "") + path
        while not serving.done():
            try:
                reader, writer = await asyncio.open_unix_connection(where, limit=ANSWER_LIMIT)
            except (FileNotFoundError, ConnectionRefusedError):  # not listening yet
                await asyncio.sleep(0.002)
                continue
            self._socket = (reader, writer, serving)
            return
        await self._served(serving)

    async def _socket_request(self, line):
        """Send one request line, and read the kernel's answer line; if the kernel's end stopped
        instead (interrupted, dead, a wall-clock backstop), say why."""
        reader, writer, serving = self._socket
        answer = asyncio.ensure_future(reader.readline())
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
        except ConnectionError:  # closed: the answer reads the end of the stream
            pass
        await asyncio.wait({answer, serving}, return_when=asyncio.FIRST_COMPLETED)
        text = answer_text(answer.result()) if answer.done() and not answer.exception() else None
        if text is not None:
            return text
        answer.cancel()
        self._socket = None
        writer.close()
        await self._served(serving)

    async def _close_socket(self):
        """End the kernel's end of the channel after a test cell (the kernel is idle again)."""
        if self._socket is None:
            return
        _, writer, serving = self._socket
        self._socket = None
        writer.close()
        try:
            await self._served(serving)
        except Unanswered:
            pass

    async def _served(self, serving):
        """Raise why the kernel's serving request ended (a dead kernel raises, as in a cell)."""
        reply = await serving
        if reply is None:  # the backstop interrupted it
            raise Unanswered("no answer before the wall-clock backstop")
        content = reply.get("content", {})
        result = content.get("user_expressions", {}).get("serve", {})
        error = result.get("ename") if result.get("status") == "error" else content.get("ename")
        if error or content.get("status") != "ok":
            raise Unanswered(f"{error or 'an error'} in the kernel")
        raise Unanswered("the kernel stopped answering")

    async def _request_reply(self, code, **expressions):
        """Run grader code in the kernel, unseen in the notebook, and evaluate `expressions`
        after it: its execute_reply, or None if the backstop stopped it. A dead kernel raises, as
        in a cell."""
        msg_id = await ensure_async(self.kc.execute(code, silent=True, store_history=False,
                                                    user_expressions=expressions))
        return await self.async_wait_for_reply(msg_id)

    def _later_definition(self, name):
        """The `def name` of a cell below the running one that the student wrote, or None."""
        for cell in self.nb.cells[self._cell_index + 1:]:
            if cell.cell_type == "code" and not is_grade(cell) and not is_provided(cell):
                source = defined_function(cell.source, name)
                if source:
                    return source
        return None

    def _release_folder(self, resources):
        """The assignment's release folder (the course's own files) in an nbgrader grading; None
        outside nbgrader (a notebook executed on its own, whose folder is the course's). Never
        the submission's folder: its `labkit` is the student's."""
        ids = resources.get("nbgrader", {})
        if "assignment" not in ids:
            return None
        folder = release_folder(self.config, ids["assignment"])
        if not folder.is_dir():
            raise FileNotFoundError(f"the assignment's release folder {folder} is missing: the "
                                    "judge runs the tests with the course's labkit from there")
        return folder

    async def _watch_cell(self, limit):
        """Interrupt the running cell when it has used `limit` seconds of its own time; kill
        its kernel if it goes on for `interrupt_grace` more (a loop deaf to the interrupt)."""
        start, interrupted = self._clock.own, None
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            used = await asyncio.to_thread(self._clock.sample) - start
            if interrupted is None and used >= limit:
                self._verdict, interrupted = "limit", used
                try:
                    await ensure_async(self.km.interrupt_kernel())
                except Exception as error:  # gone meanwhile: nbclient sees it die
                    self.log.warning("interrupting the kernel: %s", error)
            elif interrupted is not None and used >= interrupted + self.interrupt_grace:
                self._verdict = "deaf"
                await self._kill_kernel()
                return

    def _after(self, cell, cell_index, budget_bound, limit):
        """Events of a cell that ran to its end: interrupted at its limit (the student's time)
        or by the backstop (the machine's), or sys.exit()."""
        if self._verdict == "limit":
            # a cell that caught the interrupt and went on still fails: it ran out of time
            outputs = [out for out in cell.outputs if out.get("ename") != TIMEOUT]
            if budget_bound:
                message = f"the notebook ran out of its time budget ({self.time_budget} s) in this cell"
                cell.outputs = outputs
                self._stop(cell, cell_index, "budget", message)
            else:
                message = f"interrupted after the per-cell timeout ({self.timeout} s of its own time)"
                cell.outputs = outputs + [_error(TIMEOUT, message)]
                self._note(cell, cell_index, "timeout", message)
        elif self._backstop_hit:
            self._stop(cell, cell_index, BUSY_EVENT, self._busy_message("the cell's", limit))
        errors = {out.get("ename") for out in cell.outputs}
        if "SystemExit" in errors:
            self._note(cell, cell_index, "exit", "called sys.exit()")
        if "MemoryError" in errors:
            self._note(cell, cell_index, "memory", "ran out of memory (MemoryError)")
        if "BlockingIOError" in errors:
            self._note(cell, cell_index, "processes", "could not start a process or thread "
                       "(BlockingIOError: a process limit)")

    async def _async_handle_timeout(self, timeout, cell=None):
        """nbclient's wall-clock timeout: here the backstop (its error output alone would not
        tell, as student code can raise an error of the same name)."""
        self._backstop_hit = True
        return await super()._async_handle_timeout(timeout, cell)

    def _busy_message(self, whose, limit):
        used = self._clock.own if self._clock else 0.0
        return (f"machine busy: stopped by {whose} wall-clock backstop ({self.wall_factor:g} x "
                f"{limit:.0f} s) when the kernel had used {used:.0f} s of its own time; not "
                f"charged, grade it again when the machine is quieter")

    def _deaf_message(self, budget_bound):
        limit = (f"the notebook's time budget of {self.time_budget} s" if budget_bound
                 else f"the per-cell timeout of {self.timeout} s")
        return (f"this cell ignored the timeout interrupt and its kernel was killed (it went on "
                f"computing past {limit} of its own time)")

    def _limit_message(self, deadly=False):
        """What whole-kernel limit the sandbox saw the kernel hit, in words; None if none, or
        if `deadly` and it was not one that kills (the process limit only refuses forks)."""
        hit = getattr(self.km, "limit_hit", lambda: None)()
        if hit is None or deadly and hit == "processes":
            return None
        return self.km.limit_message()

    def _note_limit(self, cell, cell_index):
        """A limit hit by a cell the kernel survived (the OOM killer took a child, a fork was
        refused) is noted on the cell where it is first seen."""
        hit = getattr(self.km, "limit_hit", lambda: None)()
        if hit and hit != self._limit_noted:
            self._limit_noted = hit
            self._note(cell, cell_index, hit, self.km.limit_message())

    # nbclient binds the synchronous wrapper to its own coroutine; rebind it to this one.
    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        """Keep a cell's output only up to `output_limit` bytes (nbgrader's LimitOutput counts
        lines only, so a single huge line would pass). The cell is not interrupted: printing is
        no error, and an interrupt sent while its output is still arriving would hit a later cell."""
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
            size = len(json.dumps(msg["content"]))
            kept = self._kept.get(cell_index, 0)
            self._kept[cell_index] = kept + size
            if kept + size > self.output_limit:
                if kept <= self.output_limit:  # the first message over the limit
                    self._note(self.nb.cells[cell_index], cell_index, "output",
                               f"output over {self.output_limit:,} bytes was dropped")
                    # on stdout: nbgrader gives no credit to a test cell that writes to stderr
                    outs.append(new_output("stream", name="stdout", text=(
                        f"\n[output truncated: more than {self.output_limit:,} bytes]\n")))
                return None
        return super().output(outs, msg, display_id, cell_index)

    async def _kill_kernel(self):
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception as error:  # already gone: nothing left to stop
            self.log.warning("killing the kernel: %s", error)

    def _stop(self, cell, cell_index, kind, message):
        self._note(cell, cell_index, kind, message)
        self._stopped = f"the kernel stopped at cell {_label(cell, cell_index)} ({message})"
        cell.outputs.append(_error(kind, message))

    def _note(self, cell, cell_index, kind, message):
        self.events.append({"kind": kind, "cell": _label(cell, cell_index), "message": message})


def kill_kernels(*_):
    """Kill every kernel this process started, with whatever they forked, and its judges; return
    once they are gone (within KILL_WAIT seconds): used when the batch stops this process, which
    must not leave a kernel to the next run."""
    for judge in list(JUDGES):
        judge.kill()
    groups = set(KERNEL_GROUPS)
    deadline = monotonic() + KILL_WAIT
    while groups and monotonic() < deadline:
        for group in list(groups):
            try:
                os.killpg(group, signal.SIGKILL)  # also those forked since the last round
            except (ProcessLookupError, PermissionError):  # gone (reaped), or never ours
                groups.discard(group)
            with contextlib.suppress(ChildProcessError):  # a dead child stays in its group
                while os.waitpid(-group, os.WNOHANG)[0]:  # until this process reaps it
                    pass
        if groups:
            sleep(0.02)


def _error_message(text, ename):
    """The message of a student-side error of type `ename` in a reply text, or ""."""
    if f'"type": "{ename}"' not in text:  # (replies can be large: parsed only when worth it)
        return ""
    try:
        error = json.loads(text).get("error") or {}
    except (ValueError, AttributeError):
        return ""
    return str(error.get("message", "")) if error.get("type") == ename else ""


def _label(cell, cell_index):
    """A cell's nbgrader id, or its position."""
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{cell_index + 1}"


def _error(ename, message):
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])
