"""Limits on a whole kernel (all its processes together) with the kernel's control groups.

Per-process limits (rlimits) cannot stop a kernel whose many children each stay under them, and
RLIMIT_NPROC counts a uid's processes host-wide. A control group counts the kernel and everything
it starts, whatever uid they run as. Where a kernel's group comes from:

- as root, cgroup v2: `/sys/fs/cgroup/nnlab/<name>` (controllers memory, pids, cpu);
- as root, cgroup v1: `<name>` under the grader's own group in the memory, pids and cpuacct
  hierarchies (nested, so the grader's own limits still apply);
- as an ordinary user, cgroup v2 delegated by systemd: the kernel is started by
  `systemd-run --user --scope` with MemoryMax, MemorySwapMax=0 and TasksMax set.

Root's groups are joined by the kernel's first process itself, before it execs the sandbox (a
shell wrapper), so nothing the kernel starts escapes them. Counters (OOM kills, refused forks, CPU
time) are read while the kernel runs and once more before the group is removed.
"""
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time

from ..mounts import mounts

V1_CONTROLLERS = ("memory", "pids", "cpuacct")
V2_CONTROLLERS = ("memory", "pids", "cpu")
V2_ROOT_GROUP = "nnlab"


class NoCgroup(Exception):
    """No whole-kernel limits can be had here; the message says why."""


def _mounts():
    """[(mount point, fs type, options)] of the cgroup file systems."""
    return [mount for mount in mounts() if mount[1] in ("cgroup", "cgroup2")]


def _own_groups():
    """{controller or '' (v2): path of this process's group}, from /proc/self/cgroup."""
    groups = {}
    with open("/proc/self/cgroup") as lines:
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


def _read(path):
    with open(path) as handle:
        return handle.read()


def _write(path, value):
    with open(path, "w") as handle:
        handle.write(str(value))


def _counter(path, key):
    """The value of `key` in a flat-keyed cgroup file ('oom_kill 2'), 0 if absent."""
    with contextlib.suppress(OSError):
        for line in _read(path).splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _v2_mount():
    for point, kind, _ in _mounts():
        if kind == "cgroup2":
            controllers = set(_read(os.path.join(point, "cgroup.controllers")).split())
            if {"memory", "pids"} <= controllers:
                return point
    return None


def _v1_mounts():
    """{controller: mount point} of the v1 hierarchies holding memory, pids and cpuacct."""
    found = {}
    for point, kind, options in _mounts():
        for controller in V1_CONTROLLERS:
            if kind == "cgroup" and controller in options:
                found[controller] = point
    return found


def _systemd_user_manager():
    """Whether `systemd-run --user` can start scopes with resource limits."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    if not shutil.which("systemd-run") or not os.path.exists(os.path.join(runtime, "systemd")):
        return False
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        trial = subprocess.run(["systemd-run", "--user", "--scope", "--quiet", "-p", "TasksMax=8",
                                "true"], capture_output=True, timeout=20)
        return trial.returncode == 0 and _v2_mount() is not None
    return False


_kind = None  # which kind of group kernels get here, once found: "v2", "v1", "systemd" or a reason


def kind():
    """'v2', 'v1' (root) or 'systemd' (delegated to an ordinary user); NoCgroup if none."""
    global _kind
    if _kind is None:
        _kind = _find_kind()
    if _kind not in ("v2", "v1", "systemd"):
        raise NoCgroup(_kind)
    return _kind


def _find_kind():
    if os.geteuid() == 0:
        if _v2_mount():
            return "v2"
        if {"memory", "pids"} <= set(_v1_mounts()):
            return "v1"
        return "no cgroup v2 with memory and pids controllers, nor v1 memory and pids hierarchies"
    if _systemd_user_manager():
        return "systemd"
    return ("no cgroup delegated to this user (`systemd-run --user --scope` needs a systemd "
            "user session, as a login over ssh or a desktop gives)")


class KernelGroup:
    """The control group(s) of one kernel: limits, the command prefix that puts the kernel in
    them, the counters of what it ran into, kill and removal."""

    def __init__(self, name, memory, processes):
        self.name, self.memory, self.processes = name, memory, processes
        self.kind = kind()
        self.dirs = {}  # {controller ('' for v2): folder}
        self.oom_kills = self.refused_forks = 0
        self.cpu = 0.0  # seconds used by the kernel's processes
        # systemd: a unit name of its own, as the scope of the identity's last kernel may linger
        self.unit = f"nnlab-{name}-{os.urandom(4).hex()}"
        if self.kind == "v1":
            self._make_v1()
        elif self.kind == "v2":
            self._make_v2()

    def _make_v1(self):
        own, mounts = _own_groups(), _v1_mounts()
        for controller, point in mounts.items():
            folder = os.path.join(point, own.get(controller, "/").lstrip("/"), f"nnlab-{self.name}")
            self.dirs[controller] = _fresh(folder)
        memory = self.dirs["memory"]
        _write(os.path.join(memory, "memory.limit_in_bytes"), self.memory)
        with contextlib.suppress(OSError):  # absent without swap accounting
            _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), self.memory)
        _write(os.path.join(self.dirs["pids"], "pids.max"), self.processes)

    def _make_v2(self):
        parent = os.path.join(_v2_mount(), V2_ROOT_GROUP)
        os.makedirs(parent, exist_ok=True)
        for folder in (os.path.dirname(parent), parent):  # controllers reach the kernel's group
            available = _read(os.path.join(folder, "cgroup.controllers")).split()
            wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS if c in available)
            _write(os.path.join(folder, "cgroup.subtree_control"), wanted)
        folder = self.dirs[""] = _fresh(os.path.join(parent, self.name))
        _write(os.path.join(folder, "memory.max"), self.memory)
        with contextlib.suppress(OSError):
            _write(os.path.join(folder, "memory.swap.max"), 0)
        _write(os.path.join(folder, "pids.max"), self.processes)

    def prefix(self):
        """Command to put in front of the kernel's argv so that it starts inside the group."""
        if self.kind == "systemd":
            return ["systemd-run", "--user", "--scope", "--quiet", "--collect",
                    f"--unit={self.unit}", "-p", f"MemoryMax={self.memory}",
                    "-p", "MemorySwapMax=0", "-p", f"TasksMax={self.processes}", "--"]
        joins = " && ".join(f"echo $$ > {shlex.quote(os.path.join(d, 'cgroup.procs'))}"
                            for d in self.dirs.values())
        return ["sh", "-c", f'{joins} && exec "$@"', "sh"]

    def attach(self, pid):
        """Find the scope systemd made for the kernel whose first process is `pid`."""
        if self.kind != "systemd" or self.dirs:
            return
        with contextlib.suppress(OSError):
            path = _own_groups_of(pid).get("", "")
            if path.endswith(f"/{self.unit}.scope"):
                self.dirs[""] = os.path.join(_v2_mount(), path.lstrip("/"))

    def poll(self):
        """Read the counters while the group exists; they are kept after it is gone."""
        if not self.dirs:
            return
        if self.kind == "v1":
            memory, pids = self.dirs["memory"], self.dirs["pids"]
            oom = _counter(os.path.join(memory, "memory.oom_control"), "oom_kill")
            refused = _counter(os.path.join(pids, "pids.events"), "max")
            cpu = None
            if "cpuacct" in self.dirs:
                with contextlib.suppress(OSError, ValueError):
                    cpu = int(_read(os.path.join(self.dirs["cpuacct"], "cpuacct.usage"))) / 1e9
        else:
            folder = self.dirs[""]
            oom = _counter(os.path.join(folder, "memory.events"), "oom_kill")
            refused = _counter(os.path.join(folder, "pids.events"), "max")
            usage = _counter(os.path.join(folder, "cpu.stat"), "usage_usec")
            cpu = usage / 1e6 if usage else None
        self.oom_kills = max(self.oom_kills, oom)
        self.refused_forks = max(self.refused_forks, refused)
        if cpu is not None:
            self.cpu = max(self.cpu, cpu)

    def pids(self):
        found = set()
        for folder in self.dirs.values():
            with contextlib.suppress(OSError):
                found |= {int(pid) for pid in _read(os.path.join(folder, "cgroup.procs")).split()}
        return sorted(found)

    def kill(self):
        """SIGKILL every process in the group."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove(self, seconds=5):
        """Kill what is left, read the counters a last time and remove the group's folders
        (systemd removes its scopes itself)."""
        deadline = time.monotonic() + seconds
        while self.pids() and time.monotonic() < deadline:
            self.kill()
            time.sleep(0.05)
        self.poll()
        if self.kind != "systemd":
            for folder in self.dirs.values():
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
        self.dirs = {}


def _own_groups_of(pid):
    groups = {}
    for line in _read(f"/proc/{pid}/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        groups[controllers] = path
    return groups


def _fresh(folder):
    """Create `folder` as an empty group; one left by a crashed grader is replaced (an rmdir
    succeeds only if it holds no process)."""
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(folder)
    os.mkdir(folder)
    return folder
