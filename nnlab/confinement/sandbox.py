"""Run a student's notebook kernel confined by bubblewrap, so grading cannot be cheated or harmed.

`SandboxedKernelManager` is a jupyter_client kernel manager, usable as nbclient's or nbgrader's
`kernel_manager_class`. It works for an ordinary user (bubblewrap builds the sandbox in a user
namespace, no privilege needed) and for root. Each confinement and why it exists:

- Own mount namespace: the kernel sees, read-only, only the Python environment and the system
  files it needs and its working folder's files; it writes only to private tmpfs of capped size:
  its working folder (over those files), /tmp (which holds its sockets) and /dev/shm. Nothing it
  writes reaches the host's disk. Other students' submissions, the gradebook, the solutions and the hidden
  tests are not there to read or overwrite.
- Own network namespace (no network): no leaking the hidden tests, no reaching services on the
  grading host's localhost. The kernel therefore talks to the grader over ZeroMQ ipc (unix
  sockets) in a folder of its own /tmp, which the grader reaches through /proc/PID/root.
- Own pid and ipc namespaces, --die-with-parent: the kernel can neither see nor signal host
  processes, and every process it starts (double-forked daemons included) dies with it.
- No capabilities, no_new_privs: setuid programs in /usr must not give privileges back. An
  ordinary user's kernel runs as that user in a user namespace it cannot leave (nor nest). As
  root, the kernel is switched to an unprivileged uid of its own: root inside could undo the
  confinement.
- Limits on the whole kernel (`nnlab.confinement.cgroups`): memory, processes and threads, CPU time, counted
  over all its processes, where a control group can be had. Elsewhere only per-process limits
  hold, and `confinement` says so. Always: address space per process (a huge allocation raises
  MemoryError instead of waking the OOM killer), file size, and capped tmpfs sizes.
- Cleared environment: the grader's variables (tokens, paths) do not leak in; math libraries run
  one thread, as each thread counts against the process limit.

Each kernel claims an identity by itself (`claim_identity`): as root a uid, as an ordinary user a
slot, each held by a lock file in a folder of that user, so several graders, courses and TAs on
one host never share one.

The process chain, all exec'd:
    [cgroup join | systemd-run --user --scope] env --ignore-signal=INT bwrap ... -- prlimit ...
        -- [setpriv ... as root] -- env --default-signal=INT python -m ipykernel_launcher ...
jupyter_client interrupts a kernel by sending SIGINT to its process group, which holds bwrap too:
bwrap must ignore it (it would die and take the sandbox with it) and the kernel must not.

Needs bubblewrap >= 0.8 and, for an ordinary user, user namespaces; `check_sandbox` proves both.
"""
import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, TraitError, Unicode, validate

from .. import THREAD_LIMITS
from . import cgroups
from .kernelclock import process_tree

GiB, MiB = 1 << 30, 1 << 20
UID_BASE = 61000  # root: kernels run as uids UID_BASE .. UID_BASE + IDENTITIES - 1
IDENTITIES = 1000  # identities tried for a free one
OPEN_FILES = 1024  # RLIMIT_NOFILE
CONNECTION_FILE = "kernel.json"
TRIAL_UID = 65534  # nobody: runs check_sandbox's trial as root, never counted against a kernel
NO_SANDBOX = "or run with --no-sandbox to grade unconfined"
WATCH_SECONDS = 0.5  # how often a kernel's CPU time and limit counters are read
CPU_BACKSTOP = 30  # with a control group, each process's own CPU limit is this much later


class SandboxUnavailable(Exception):
    """A kernel cannot be confined here; the message says why and how to fix it."""


def is_root():
    return os.geteuid() == 0


def processes_of(uid):
    """Host pids whose real uid is `uid` (from /proc/PID/status, which a process cannot hide
    the way it can hide the owner of /proc/PID by making itself non-dumpable)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as status:
                real_uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
        except (OSError, StopIteration):  # gone meanwhile
            continue
        if real_uid == uid:
            pids.append(int(pid))
    return pids


# ---------------------------------------------------------------- is a sandbox possible here?

_verdict = None  # check_sandbox's result: None = not checked yet, "" = usable, else why not


def check_sandbox():
    """Raise SandboxUnavailable unless kernels can be confined here. Proven, once per process,
    by running `true` in a sandbox built exactly like a kernel's."""
    global _verdict
    if _verdict is None:
        _verdict = _why_unavailable()
    if _verdict:
        raise SandboxUnavailable(_verdict)


def _why_unavailable():
    """'' if a trial sandbox runs, else the reason it does not and how to fix it."""
    if not shutil.which("bwrap"):
        return ("bwrap not found: install Debian's bubblewrap (apt-get install bubblewrap), "
                f"{NO_SANDBOX}")
    for tool in ("prlimit", "setpriv") if is_root() else ("prlimit",):
        if not shutil.which(tool):
            return (f"{tool} not found: install util-linux (apt-get install util-linux), "
                    f"{NO_SANDBOX}")
    with tempfile.TemporaryDirectory(prefix="nnlab-sandbox-check-") as folder:
        os.chmod(folder, 0o755)  # as root, the trial runs as `nobody`
        # a generous process cap: the trial must not depend on how busy the user is
        command = sandbox_command(folder, folder, uid=TRIAL_UID if is_root() else None,
                                  max_processes=1 << 16)
        try:
            trial = subprocess.run(command + ["true"], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return f"bwrap did not finish a trial run of `true` in 30 s, {NO_SANDBOX}"
    if trial.returncode != 0:
        return explain_failure(trial.stderr.strip())
    return ""


# (setting, value that forbids user namespaces, the fix)
USERNS_SETTINGS = [
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "sudo sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/ to keep it)"),
    ("/proc/sys/user/max_user_namespaces", "0",
     "sudo sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d/ to keep it)"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu >= 23.10)"),
]


def explain_failure(stderr, read_setting=None):
    """Why bwrap could not build a sandbox (its `stderr`), and the one thing that fixes it."""
    read_setting = read_setting or _read_setting
    said = f" (bwrap: {stderr})" if stderr else ""
    if not is_root():
        for path, forbidding, fix in USERNS_SETTINGS:
            if read_setting(path) == forbidding:
                return (f"user namespaces are disabled for ordinary users ({path} is "
                        f"{forbidding}){said}: {fix}, {NO_SANDBOX}")
        if _in_container():
            return (f"this container does not allow user namespaces{said}: start it with "
                    "--security-opt seccomp=unconfined (docker, podman), "
                    f"or grade as root with the container run --privileged, {NO_SANDBOX}")
        return (f"bwrap cannot create user namespaces{said}: user namespaces must be enabled "
                f"for ordinary users (kernel.unprivileged_userns_clone=1), {NO_SANDBOX}")
    return (f"bwrap cannot build the sandbox{said}. It needs bubblewrap >= 0.8 and the right to "
            "create namespaces and mounts (in a container: docker run --privileged), "
            f"{NO_SANDBOX}")


def _read_setting(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _in_container():
    return (os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")
            or bool(os.environ.get("container")))


_counts_host = None  # whether RLIMIT_NPROC in a user namespace counts the user's host processes


def nproc_counts_host():
    """Whether, for an ordinary user, RLIMIT_NPROC inside the sandbox counts the processes the
    user runs outside it (kernels before 5.14: one count per uid; later ones count per user
    namespace). Proven by a trial: a fork under a cap of 4 fails only if host processes count."""
    global _counts_host
    if _counts_host is None:
        with tempfile.TemporaryDirectory(prefix="nnlab-nproc-check-") as folder:
            command = sandbox_command(folder, folder, max_processes=4)
            trial = subprocess.run(command + ["sh", "-c", "(true) && (true)"],
                                   capture_output=True, timeout=30)
        _counts_host = trial.returncode != 0
    return _counts_host


# ---------------------------------------------------------------- identities

class Identity:
    """A sandbox identity held by one kernel: the lock, the uid (as root) and a name for its
    control group."""

    def __init__(self, lock, uid, name):
        self.lock, self.uid, self.name = lock, uid, name

    def release(self):
        self.lock.close()


def lock_folder():
    """This user's folder of identity locks: /run/nnlab-sandbox for root (uids are host-wide),
    else under $XDG_RUNTIME_DIR or /tmp, private to the user (a folder someone else made or can
    write is refused: they could hold our locks)."""
    if is_root():
        folder = "/run/nnlab-sandbox"
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        usable = runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid()
        folder = (os.path.join(runtime, "nnlab-sandbox") if usable
                  else f"/tmp/nnlab-sandbox-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailable(f"{folder} is not a private folder of yours: remove it so that "
                                 "the sandbox can make its own")
    return folder


def _try_lock(path):
    lock = open(path, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def claim_identity(uid=0, uid_base=UID_BASE):
    """A free identity, locked for the caller until released: as root the first uid from
    `uid_base` (or `uid`) that is not locked and runs no process; as an ordinary user the first
    free slot of that user."""
    folder = lock_folder()
    if not is_root():
        for slot in range(IDENTITIES):
            if lock := _try_lock(os.path.join(folder, f"slot-{slot}.lock")):
                return Identity(lock, None, f"u{os.getuid()}-{slot}")
    else:
        for candidate in [uid] if uid else range(uid_base, uid_base + IDENTITIES):
            lock = _try_lock(os.path.join(folder, f"uid-{candidate}.lock"))
            if lock and not processes_of(candidate):
                return Identity(lock, candidate, f"uid{candidate}")
            if lock:
                lock.close()
    which = f"uid {uid} is" if uid else f"all {IDENTITIES} sandbox identities are"
    raise SandboxUnavailable(f"{which} in use by other kernels: wait for them to finish")


# ---------------------------------------------------------------- the command line

def _system_binds():
    """Read-only host paths every kernel needs: /usr, the top-level links into it, the dynamic
    loader's cache (without it, Debian's multiarch libraries are not found), the time zone and
    fontconfig's configuration (matplotlib asks fc-list for the system fonts)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(path):  # merged /usr
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--perms", "0755", "--dir", "/etc"]  # else made 0700: unreadable to the kernel
    for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _environment_binds(extra=()):
    """{path inside: host path} of the Python environment (venv and base interpreter) and
    `extra`: at the resolved path and at the path as given, as both appear in commands and
    symlinks."""
    binds = {}
    for path in (sys.prefix, sys.base_prefix, *extra):
        real = os.path.realpath(path)
        binds[real] = binds[os.path.abspath(path)] = real
    return binds


def _inside(path, folder):
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mount_points(paths, mounted):
    """bwrap options creating the missing parent folders of `paths` with mode 0755 (bwrap would
    make them 0700, unreadable to the sandbox uid); none inside a bind-`mounted` tree."""
    parents = {os.path.dirname(p) for p in paths}
    for path in list(parents):
        while path != "/":
            parents.add(path)
            path = os.path.dirname(path)
    args = []
    for folder in sorted(parents - {"/", "/tmp", "/dev"}):  # those two are already there
        if not any(_inside(folder, tree) for tree in mounted):
            args += ["--perms", "0755", "--dir", folder]
    return args


def kernel_environment():
    """The sandboxed kernel's whole environment."""
    return {
        "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "Agg",
        **THREAD_LIMITS,
        # the kernel's parent is the sandbox's init (pid 1): ipykernel then skips its parent
        # poller, which would otherwise see the grader's pid as gone and quit
        "JPY_PARENT_PID": "1",
        "PYTHONNOUSERSITE": "1",
    }


def _namespaces(uid):
    """bwrap's namespace and privilege options: as root, a sandbox that keeps only what setpriv
    needs to switch to `uid`; as an ordinary user, a user namespace that cannot be nested."""
    common = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--unshare-cgroup-try", "--die-with-parent"]
    if uid is None:
        return ["--unshare-user", "--disable-userns", *common, "--cap-drop", "ALL"]
    # kept only for setpriv to switch uid and empty the bounding set, then dropped
    return [*common, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--cap-add", "CAP_SETPCAP"]


def sandbox_command(work_dir, run_dir, *, uid=None, memory_limit=4 * GiB, max_processes=256,
                    cpu_seconds=900, file_size_limit=GiB, tmp_size=512 * MiB, work_size=256 * MiB,
                    read_only=()):
    """The command line to put in front of a kernel's argv to run it confined. `work_dir`
    (absolute, resolved): the kernel's working folder, a tmpfs of `work_size` bytes holding the
    host folder's files read-only. `run_dir` (absolute, under /tmp): the kernel's connection file,
    read-only, in a folder of the sandbox's own /tmp where the kernel makes its sockets (the
    grader reaches them through /proc/PID/root, see `sandbox_process`). Nothing the kernel writes
    lands on the host's disk. The Python environment and `read_only` are read-only. `uid`: as
    root, the uid to switch to; None for an ordinary user. `max_processes`: the RLIMIT_NPROC to
    set, None for none (a control group counts the processes)."""
    environment = _environment_binds(read_only)
    mounted = ["/usr", *environment, work_dir]
    command = [
        "env", "--ignore-signal=INT", shutil.which("bwrap") or "bwrap", *_namespaces(uid),
        *_system_binds(), "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp",
        "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/dev/shm",
        *_mount_points([*environment, work_dir, run_dir], mounted),
    ]
    for inside in sorted(environment):  # a folder before what is bound inside it
        command += ["--ro-bind", environment[inside], inside]
    command += ["--perms", "1777", "--size", str(work_size), "--tmpfs", work_dir]
    for entry in sorted(os.listdir(work_dir)):
        command += ["--ro-bind", os.path.join(work_dir, entry), os.path.join(work_dir, entry)]
    command += ["--perms", "1777", "--dir", run_dir]
    connection_file = os.path.join(run_dir, CONNECTION_FILE)
    if os.path.exists(connection_file):  # (the trial runs have none)
        command += ["--ro-bind", connection_file, connection_file]
    # the sandbox's root is a tmpfs of no size limit, writable by an ordinary user's kernel
    command += ["--remount-ro", "/", "--clearenv"]
    for name, value in kernel_environment().items():
        command += ["--setenv", name, value]
    command += [
        "--", "prlimit", f"--as={memory_limit}",
        *([f"--nproc={max_processes}"] if max_processes is not None else []),
        # SIGXCPU at the soft limit, SIGKILL at the hard one for a kernel that ignores it
        f"--cpu={cpu_seconds}:{cpu_seconds + 5}", f"--fsize={file_size_limit}",
        f"--nofile={OPEN_FILES}", "--core=0", "--",
    ]
    if uid is not None:
        command += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    # entered only now: as root, bwrap (without CAP_DAC_OVERRIDE) may not enter a private folder
    # lent to the sandbox uid
    return command + ["env", "--default-signal=INT", f"--chdir={work_dir}"]


# ---------------------------------------------------------------- the kernel manager

async def sandbox_process(root_pid, seconds=10):
    """A process inside the sandbox that `root_pid` (bwrap, or what execs it) starts: the first of
    its descendants in another mount namespace. Its /proc/PID/root is the sandbox's file system,
    which the grader may enter (as root, or as the owner of the sandbox's user namespace)."""
    ours = os.readlink("/proc/self/ns/mnt")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in process_tree(root_pid):
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                    return pid
            except OSError:  # gone, or not yet there
                continue
        await asyncio.sleep(0.02)
    raise SandboxUnavailable(f"the sandbox of process {root_pid} did not start within {seconds} s")


async def _wait_until_gone(uid, seconds):
    """Wait up to `seconds` for the processes of `uid` to exit; the pids left."""
    deadline = time.monotonic() + seconds
    while (pids := processes_of(uid)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return pids


def _give(folder, uid, gid):
    """Make `uid`:`gid` the owner of `folder` and everything in it. lchown and os.walk do not
    follow symlinks: a planted link cannot hand over other files."""
    for root, dirs, files in os.walk(folder):
        os.lchown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _size(value):
    return f"{value / GiB:g} GiB" if value >= GiB else f"{value / MiB:g} MiB"


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs confined by bubblewrap (see the module docstring).

    The kernel's working folder is the `cwd` it is started with (nbclient and nbgrader pass the
    notebook's folder): it is the only host folder the kernel may write. As root it is lent to
    the kernel's uid and given back to its owner afterwards.

    After the kernel has started, `confinement` says which limits hold; `limit_hit()` says which
    whole-kernel limit it ran into, if any ("memory", "processes" or "cpu").
    """

    uid = Integer(0, help="as root: the kernel's uid; 0 (the usual choice) picks a free one from "
                  "uid_base. Not used by an ordinary user.").tag(config=True)
    uid_base = Integer(UID_BASE, help=f"as root: kernels run as uids uid_base .. uid_base + "
                       f"{IDENTITIES - 1}, which no account of the host may use").tag(config=True)
    memory_limit = Integer(4 * GiB, help="bytes of memory for the whole kernel, all its processes "
                           "together (a control group); each process's address space is capped "
                           "at this too, so one huge allocation raises MemoryError"
                           ).tag(config=True)
    max_processes = Integer(256, help="processes and threads of the whole kernel"
                            ).tag(config=True)
    cpu_seconds = Integer(900, help="CPU seconds of the whole kernel; without a control group, "
                          "per process (then SIGXCPU, and SIGKILL 5 s later)").tag(config=True)
    file_size_limit = Integer(GiB, help="bytes per file written (RLIMIT_FSIZE)").tag(config=True)
    tmp_size = Integer(512 * MiB, help="bytes of each private tmpfs, /tmp and /dev/shm"
                       ).tag(config=True)
    work_size = Integer(256 * MiB, help="bytes the kernel may write in its working folder (a "
                        "private tmpfs over the folder's files)").tag(config=True)
    use_cgroups = Bool(True, help="put whole-kernel limits in a control group where one can be "
                       "had; False: per-process limits only").tag(config=True)
    read_only_paths = List(Unicode(), help="more host folders the kernel may read, e.g. an "
                           "editable package").tag(config=True)

    @validate("uid", "uid_base")
    def _unprivileged(self, proposal):
        name, value = proposal.trait.name, proposal.value
        if value < 0 or (value == 0 and name == "uid_base"):  # uid 0 means: pick one
            raise TraitError(f"{name} = {value}: the kernel must run as an unprivileged uid")
        return value

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"  # no network inside the sandbox
        self.run_dir = ""  # the kernel's connection file and sockets, made at first start
        self.identity = None  # held from the first start to the final cleanup
        self._group = None  # the running kernel's control group, if any
        self._no_group = ""  # why there is none
        self._watch_stop = None  # threading.Event ending the running kernel's watch
        self._cpu_hit = False
        self._owner = None  # as root: (uid, gid) of the working folder before it was lent
        self._work_dir = None
        self._nproc = None  # RLIMIT_NPROC given without a control group

    # -- what the grader reads

    @property
    def confinement(self):
        """Which limits hold for the kernel, in a line for the status and the CSV."""
        extra = (f"files {_size(self.file_size_limit)} each, working folder {_size(self.work_size)}, "
                 f"/tmp {_size(self.tmp_size)}")
        if self._group is not None:
            kind = {"v1": "cgroup v1", "v2": "cgroup v2",
                    "systemd": "cgroup v2 (systemd user scope)"}[self._group.kind]
            return (f"{kind}: memory {_size(self.memory_limit)}, {self.max_processes} processes, "
                    f"CPU {self.cpu_seconds} s for the whole kernel; {extra}")
        processes = (f"{self.max_processes} processes of its own uid" if is_root() else
                     f"{self.max_processes} processes beyond the user's own")
        return (f"per-process limits only ({self._no_group or 'no control group'}): memory "
                f"{_size(self.memory_limit)} per process, {processes}, CPU {self.cpu_seconds} s "
                f"per process; {extra}")

    @property
    def group(self):
        """The running kernel's control group (`cgroups.KernelGroup`), or None."""
        return self._group

    def limit_hit(self):
        """The whole-kernel limit the kernel ran into since it started: "cpu", "memory",
        "processes", or None (also when no control group counts them)."""
        if self._group is None:
            return None
        self._group.poll()
        if self._cpu_hit:
            return "cpu"
        if self._group.oom_kills:
            return "memory"
        if self._group.refused_forks:
            return "processes"
        return None

    def limit_message(self):
        """What limit_hit() means, in words; None if no limit was hit."""
        limit = self.limit_hit()
        amount = {"cpu": f"{self.cpu_seconds} s of CPU time",
                  "memory": _size(self.memory_limit),
                  "processes": f"{self.max_processes} processes and threads"}.get(limit)
        return limit and f"the kernel hit the {limit} limit ({amount} for the whole kernel)"

    # -- starting

    async def _async_pre_start_kernel(self, **kwargs):
        check_sandbox()
        if self.identity is None:  # kept across restarts
            self.identity = claim_identity(self.uid if is_root() else 0, self.uid_base)
        if not self.run_dir:
            # under /tmp: a unix socket's path must fit in 107 bytes
            self.run_dir = tempfile.mkdtemp(prefix="nnlab-kernel-", dir="/tmp")
            self.connection_file = os.path.join(self.run_dir, CONNECTION_FILE)
        self.ip = os.path.join(self.run_dir, "zmq")  # as the kernel sees it
        return await super()._async_pre_start_kernel(**kwargs)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.identity is not None and self.identity.uid is not None:  # written 0600
            os.chown(self.connection_file, self.identity.uid, self.identity.uid)

    async def _async_launch_kernel(self, kernel_cmd, **kwargs):
        try:
            work_dir = self._working_folder(kwargs.get("cwd"))
            uid = self.identity.uid
            if uid is not None:
                info = os.stat(work_dir)
                self._owner, self._work_dir = (info.st_uid, info.st_gid), work_dir
                _give(work_dir, uid, uid)
            self._group = self._make_group()
            prefix = sandbox_command(
                work_dir, self.run_dir, uid=uid, memory_limit=self.memory_limit,
                max_processes=None if self._group else self._process_cap(),
                # a group's CPU time is capped by the watch; per process, only as a backstop
                cpu_seconds=self.cpu_seconds + (CPU_BACKSTOP if self._group else 0),
                file_size_limit=self.file_size_limit, tmp_size=self.tmp_size,
                work_size=self.work_size, read_only=self.read_only_paths)
            join = self._group.prefix() if self._group else []
            await super()._async_launch_kernel(join + prefix + kernel_cmd, **kwargs)
            # the kernel's sockets are in the sandbox's /tmp: clients connect through its root
            inside = await sandbox_process(self.provisioner.process.pid)
            self.root_prefix = f"/proc/{inside}/root"  # the sandbox's file system, seen from here
            self.ip = f"{self.root_prefix}{self.ip}"
            self._watch()
        except BaseException:
            await self._end_kernel()
            self._release()  # nbclient does not clean up after a failed start
            raise

    def _make_group(self):
        """The kernel's control group, or None (and the reason in _no_group)."""
        if not self.use_cgroups:
            self._no_group = "control groups turned off"
            return None
        try:
            return cgroups.KernelGroup(self.identity.name, self.memory_limit, self.max_processes)
        except (cgroups.NoCgroup, OSError) as error:
            self._no_group = str(error)
            self.log.info("no control group for the kernel: %s", error)
            return None

    def _process_cap(self):
        """RLIMIT_NPROC without a control group. As root the uid is the kernel's alone; an
        ordinary user's kernel counts against the user, so it gets max_processes beyond what the
        user already runs (where the kernel counts host processes in the rlimit at all)."""
        self._nproc = self.max_processes
        if not is_root() and nproc_counts_host():
            self._nproc += len(processes_of(os.getuid()))
        return self._nproc

    def _watch(self):
        """Start a thread that reads the group's counters and kills a kernel over its CPU time:
        a control group counts CPU time but does not cap it."""
        group = self._group
        if group is None:
            return
        stop = self._watch_stop = threading.Event()
        pid = self.provisioner.process.pid

        def watch():
            while not stop.wait(WATCH_SECONDS):
                group.attach(pid)
                group.poll()
                if group.cpu > self.cpu_seconds:
                    self._cpu_hit = True
                    group.kill()
                    return
        threading.Thread(target=watch, daemon=True, name="nnlab-kernel-watch").start()

    def _working_folder(self, cwd):
        """The resolved working folder; refused if binding it read-write (and lending it to the
        sandbox uid) would expose the environment, the system or the run folder to writes."""
        if not cwd:
            raise ValueError("SandboxedKernelManager needs the kernel's working folder as cwd "
                             "(nbclient/nbgrader: resources={'metadata': {'path': folder}})")
        work_dir = os.path.realpath(cwd)
        protected = ["/usr", "/etc", "/proc", "/dev", self.run_dir,
                     *_environment_binds(self.read_only_paths)]
        for path in protected:
            if _inside(work_dir, path) or _inside(path, work_dir):
                raise ValueError(f"working folder {work_dir} overlaps {path}: refused, as the "
                                 "kernel may write all of its working folder")
        return work_dir

    # -- ending

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        await self._end_kernel()
        if not restart:
            self._release()

    cleanup_resources = _async_cleanup_resources

    async def _end_kernel(self):
        """Make sure no process of the kernel is left, remove its group (its counters are kept
        for limit_hit) and give the working folder back to its owner."""
        if self._watch_stop is not None:
            self._watch_stop.set()
            self._watch_stop = None
        if self._group is not None:
            await asyncio.to_thread(self._group.remove)
        uid = self.identity.uid if self.identity else None
        if uid is not None:
            # Processes die with the pid namespace, asynchronously: wait, and kill stragglers
            # (the uid is this kernel's alone), so that the uid is free for the next kernel.
            for pid in await _wait_until_gone(uid, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await _wait_until_gone(uid, 5)
        if self._owner is not None and os.path.isdir(self._work_dir):
            _give(self._work_dir, *self._owner)
        self._owner = None

    def _release(self):
        """Free the identity and remove the run folder."""
        if self.identity is not None:
            self.identity.release()
            self.identity = None
        if self.run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = ""
