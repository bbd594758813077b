"""Time limits are charged in the kernel's own time (CPU time and its own waiting), never in the
time a busy machine kept it waiting: small notebooks run by GuardedExecute, with and without CPU
hogs on every core."""
import contextlib
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from nnlab.steps.execution import GuardedExecute
from nnlab.confinement.kernelclock import KernelClock
from nnlab.status import BUSY_EVENT

from conftest import HOGS_PER_CORE, CpuHogs, course_cell

# Busy work of about this many CPU seconds, whatever the machine's speed.
WORK = "import time\nstart = time.process_time()\nwhile time.process_time() - start < {}:\n    pass\nprint('done')"


@pytest.fixture()
def hogs():
    """CPU hogs keep every core busy (load average 3x the cores) while the test runs."""
    with CpuHogs(HOGS_PER_CORE * os.cpu_count()) as running:
        yield running


def run(tmp_path, sources, **traits):
    """(GuardedExecute after the run, the executed notebook's cells)."""
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    guarded = GuardedExecute(config=Config({"GuardedExecute": traits}), timeout=traits.pop("timeout", 4))
    nb, _ = guarded.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return guarded, nb.cells


def kinds(guarded):
    return [event["kind"] for event in guarded.events]


def errors(cell):
    return [out["ename"] for out in cell.outputs if out["output_type"] == "error"]


def test_a_loop_is_interrupted_at_its_own_time_limit(tmp_path):
    guarded, cells = run(tmp_path, ["while True:\n    pass", "print('next')"])
    assert kinds(guarded) == ["timeout"]
    assert "CellTimeoutError" in errors(cells[0])
    assert cells[1].outputs[0]["text"] == "next\n"  # grading goes on


def test_sleeping_is_the_kernels_own_time(tmp_path):
    """A kernel waiting by itself (sleep, I/O) uses its time as surely as one computing."""
    started = time.monotonic()
    guarded, cells = run(tmp_path, ["import time\ntime.sleep(600)"])
    assert kinds(guarded) == ["timeout"]
    assert time.monotonic() - started < 60


def test_a_loop_deaf_to_the_interrupt_is_killed_after_the_grace(tmp_path):
    deaf = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    guarded, cells = run(tmp_path, [deaf, "1"], interrupt_grace=2)
    assert kinds(guarded) == ["killed"]
    assert "ignored the timeout interrupt and its kernel was killed" in guarded.events[0]["message"]
    assert errors(cells[1]) == ["NotRun"]


# One numpy call of about 10 s of CPU, which an interrupt cannot break into (sized on this machine).
LONG_NUMPY_CALL = """import time
import numpy as np
a = np.ones((150, 150))
start = time.process_time()
np.einsum("ij,jk,kl->il", a, a, a, optimize=False)
n = int(150 * (10 / max(time.process_time() - start, 1e-3)) ** 0.25)"""


def test_an_interrupt_answered_late_from_deep_in_numpy_is_no_deaf_loop(tmp_path):
    """The interrupt waits for the numpy call to return, seconds later: the cell is charged its
    timeout, and the kernel lives on."""
    busy = 'a = np.ones((n, n))\nnp.einsum("ij,jk,kl->il", a, a, a, optimize=False)'
    guarded, cells = run(tmp_path, [LONG_NUMPY_CALL, busy, "print('next')"], timeout=2, interrupt_grace=15)
    assert kinds(guarded) == ["timeout"]
    assert cells[2].outputs[0]["text"] == "next\n"


def test_catching_the_interrupt_does_not_save_the_cell(tmp_path):
    caught = "try:\n    while True:\n        pass\nexcept KeyboardInterrupt:\n    print('survived')"
    guarded, cells = run(tmp_path, [caught])
    assert kinds(guarded) == ["timeout"] and "CellTimeoutError" in errors(cells[0])


def test_the_notebook_budget_counts_own_time_across_cells(tmp_path):
    guarded, cells = run(tmp_path, [WORK.format(1.5)] * 4, timeout=10, time_budget=4)
    assert kinds(guarded) == ["budget"]
    assert [errors(cell)[-1:] for cell in cells] == [[], [], ["budget"], ["NotRun"]]


def test_a_busy_machine_does_not_charge_the_student(tmp_path, hogs):
    """Under a load of 3x the cores, a cell needing 2 CPU seconds takes several times that on
    the wall clock: within its 4 s limit, it passes."""
    started = time.monotonic()
    guarded, cells = run(tmp_path, [WORK.format(2), WORK.format(2)])
    assert time.monotonic() - started > 8  # the load did slow it down
    assert kinds(guarded) == []
    assert [cell.outputs[-1]["text"] for cell in cells] == ["done\n", "done\n"]


@pytest.fixture()
def runs(monkeypatch):
    """How many times a notebook ran (GuardedExecute runs one the machine stopped once more);
    `runs.conditions[i]`, if set, makes the context the i-th run happens in."""
    record, plain = SimpleNamespace(count=0, conditions={}), GuardedExecute._in_scratch_folder

    def run_counted(self, *args):
        condition = record.conditions.get(record.count, contextlib.nullcontext)
        record.count += 1
        with condition(self):
            return plain(self, *args)

    monkeypatch.setattr(GuardedExecute, "_in_scratch_folder", run_counted)
    return record


def test_a_notebook_the_machine_stops_twice_is_busy_not_charged(tmp_path, hogs, runs):
    """With a backstop as short as the limit itself, the loaded machine stops the cell before
    it used its time: graded again, stopped again, reported as busy."""
    guarded, cells = run(tmp_path, [WORK.format(3), "1"], wall_factor=1.0)
    assert runs.count == 2
    assert kinds(guarded) == [BUSY_EVENT]
    assert "machine busy" in guarded.events[0]["message"]
    assert errors(cells[1]) == ["NotRun"]


@contextlib.contextmanager
def loaded_with_a_short_backstop(guarded):
    with CpuHogs(HOGS_PER_CORE * os.cpu_count()):
        guarded.wall_factor, normal = 1.0, guarded.wall_factor
        try:
            yield
        finally:
            guarded.wall_factor = normal


def test_a_notebook_the_machine_stopped_once_is_graded_in_full_the_second_time(tmp_path, runs):
    """The first run meets a loaded machine and a backstop as short as the limit; by the second,
    the load is gone and the backstop back to normal: the cell passes, nothing is charged."""
    runs.conditions[0] = loaded_with_a_short_backstop
    guarded, cells = run(tmp_path, [WORK.format(3), "print('next')"])
    assert runs.count == 2
    assert kinds(guarded) == []
    assert [cell.outputs[-1]["text"] for cell in cells] == ["done\n", "next\n"]


def test_the_clock_counts_cpu_of_every_process_and_sleep(tmp_path):
    """Without a control group: CPU time of the process tree, children that ended included."""
    child = subprocess.Popen([sys.executable, "-c", "import os, time\n"
                              "pid = os.fork()\nstart = time.process_time()\n"
                              "while time.process_time() - start < 1: pass\n"
                              "os._exit(0) if pid == 0 else os.wait()\ntime.sleep(1)"])
    clock = KernelClock(child.pid)
    clock.resume()
    while child.poll() is None:
        clock.sample()
        time.sleep(0.05)
    assert 1.8 < clock.cpu < 3  # the process and its child, one second each
    assert clock.own > clock.cpu + 0.7  # the second of sleep


def test_a_test_cell_stuck_past_the_wall_clock_backstop_is_the_machines_doing(tmp_path):
    """A test cell runs in the judge: while it waits there, neither the kernel's own time nor
    nbclient's timeout moves. The cell's wall-clock backstop stops it all the same (as the
    machine's doing, graded again once, then busy), where the grading waited for ever."""
    nb = new_notebook(cells=[course_cell("import time\ntime.sleep(3600)", "stuck", points=1),
                             new_code_cell("print('after')")])
    guarded = GuardedExecute(config=Config({"GuardedExecute": {"sandbox": False, "wall_factor": 0.1}}),
                             timeout=20)  # backstops: 3 s a cell, 60 s the notebook
    started = time.monotonic()

    def waited_for_ever(*_):
        raise TimeoutError("the grading waited for the stuck test")

    previous = signal.signal(signal.SIGALRM, waited_for_ever)
    signal.alarm(120)
    try:
        nb, _ = guarded.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 60
    assert [(event["kind"], event["cell"]) for event in guarded.events] == [(BUSY_EVENT, "stuck")]
    assert "machine busy: stopped by the cell's wall-clock backstop" in guarded.events[0]["message"]
    assert [out["ename"] for out in nb.cells[1].outputs] == ["NotRun"]
