"""The time a kernel spends on its own: what a student's time limits are charged in.

A kernel's wall-clock time is its own work (CPU time of all its processes), its own waiting
(sleeping, blocked on a file) and the time it was ready to run but had no CPU, because other work
kept the machine busy. Only the first two are the student's. `KernelClock` samples the kernel's
processes a few times a second: CPU time comes from the kernel's control group where it has one
(which also counts processes that have ended), else from /proc for the kernel's process tree; an
interval in which no thread of the kernel was runnable (state R) counts as its own waiting (but
for the judge's short requests, charged their CPU time only: see `pause`).
Finding the process tree means reading every process's stat file, so the tree found is reused
for TREE_SECONDS: the judge pauses and resumes the clock around each of its requests, hundreds
per notebook. A process born meanwhile is counted from the next search on, with all its time.
"""
import os
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
TREE_SECONDS = 0.2  # how long a process tree found stays in use
SHORT_SECONDS = 0.05  # a counted stretch this short is charged its CPU time only


class KernelClock:
    """Seconds a kernel spent on its own while counted (from each `resume()` on); `sample()` keeps
    the count up to date and must be called often (a few times a second) meanwhile."""

    def __init__(self, root_pid, group=None):
        self.root_pid, self.group = root_pid, group
        self.own = 0.0  # seconds charged to the kernel: CPU time and its own waiting
        self.cpu = 0.0  # of which CPU time
        self._last = None  # (wall, cpu) at the previous sample
        self._paused = False
        self._lock = threading.Lock()  # sampled by a watching thread and by the grader
        self._tree = (float("-inf"), [])  # (when found, pids) of the kernel's process tree

    def resume(self):
        """Count from now on: the time since the last sample is not the kernel's."""
        with self._lock:
            self._last = (time.monotonic(), self._cpu())
            self._paused = False

    def pause(self):
        """Count up to now, then stop counting until `resume()` (while a test runs in the judge,
        the kernel idles for the grader, not for the student). The kernel's own waiting is looked
        for only after SHORT_SECONDS: the judge's requests mostly take a millisecond or two."""
        self.sample(waiting=time.monotonic() - self._last[0] >= SHORT_SECONDS)
        self._paused = True

    def sample(self, waiting=True):
        """Add the time since the previous sample (none while paused), and unless `waiting` is
        False, the kernel's own waiting meanwhile; returns `own`."""
        with self._lock:
            wall, cpu = time.monotonic(), self._cpu()
            if not self._paused:
                last_wall, last_cpu = self._last
                used = max(0.0, cpu - last_cpu)
                self.cpu += used
                self.own += used
                if waiting and not self._runnable():  # it waited by itself: sleep, a lock, a file
                    self.own += max(0.0, wall - last_wall - used)
            self._last = (wall, cpu)
            return self.own

    def _pids(self):
        if self.group is not None and self.group.dirs:
            return self.group.pids()
        if time.monotonic() - self._tree[0] > TREE_SECONDS:
            self._tree = (time.monotonic(), process_tree(self.root_pid))
        return self._tree[1]

    def _cpu(self):
        if self.group is not None and ("cpuacct" in self.group.dirs or "" in self.group.dirs):
            self.group.poll()  # counts the processes that have ended too
            return self.group.cpu
        return sum(_process_cpu(pid) for pid in self._pids())

    def _runnable(self):
        for pid in self._pids():
            for task in _tasks(pid):
                if _stat(f"/proc/{pid}/task/{task}/stat")[0] == "R":
                    return True
        return False


def _stat(path):
    """The fields of a /proc stat file after the command name (state first); [""] if gone."""
    try:
        text = Path(path).read_text()
    except OSError:
        return [""]
    return text[text.rindex(")") + 2:].split()


def _process_cpu(pid):
    """CPU seconds of a process and of the children it has waited for."""
    fields = _stat(f"/proc/{pid}/stat")
    if len(fields) < 15:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / TICK  # utime stime cutime cstime


def _tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def process_tree(root):
    """`root` and all its descendants, from every process's parent in /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(f"/proc/{entry}/stat")
            if len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found
