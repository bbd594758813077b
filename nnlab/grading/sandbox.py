"""Run a student's notebook kernel confined by bubblewrap, so grading cannot be cheated or harmed.

`SandboxedKernelManager` is a jupyter_client kernel manager, usable as nbclient's or nbgrader's
`kernel_manager_class`. Each confinement and why it exists:

- Own mount namespace: the kernel sees, read-only, only the Python environment and the system
  files it needs; read-write, only its working folder (where nbgrader reads the results back) and
  a private tmpfs /tmp. Other students' submissions, the gradebook, the solutions and the hidden
  tests are not there to read or overwrite.
- Own network namespace (no network): no leaking the hidden tests, no reaching services on the
  grading host's localhost. The kernel therefore talks to the grader over ZeroMQ ipc (unix
  sockets) in a private run folder, bound at the same path inside and outside.
- Own pid and ipc namespaces, --die-with-parent: the kernel can neither see nor signal host
  processes, and every process it starts (double-forked daemons included) dies with it.
- An unprivileged uid, all capabilities dropped, no_new_privs: root inside could undo the
  confinement, and setuid programs in /usr must not give root back. It is also needed for the
  process cap: RLIMIT_NPROC is never enforced for root.
- One uid per concurrently running kernel (`uid_for_slot`): RLIMIT_NPROC counts the processes
  of a uid across the whole host, so kernels sharing a uid would share one cap. A lock file per
  uid, held while the kernel runs, refuses a second kernel on a uid in use.
- Resource limits: address space (a huge allocation raises MemoryError instead of waking the
  host's OOM killer), processes (a fork bomb stops at the cap), CPU seconds, file size. The
  tmpfs sizes are capped too, as tmpfs memory is not counted by the address-space limit.
- Cleared environment: the grader's variables (tokens, paths) do not leak in; math libraries run
  one thread, as each thread costs a process slot and address space.

The process chain, all exec'd:
    env --ignore-signal=INT bwrap ... -- prlimit ... -- setpriv ... -- \
        env --default-signal=INT python -m ipykernel_launcher -f CONNECTION_FILE ...
jupyter_client interrupts a kernel by sending SIGINT to its process group, which holds bwrap too:
bwrap must ignore it (it would die and take the sandbox with it) and the kernel must not.

Needs root (to switch to the sandbox uid) and bubblewrap >= 0.8; `check_sandbox` proves both.
"""
import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, TraitError, Unicode, validate

GiB, MiB = 1 << 30, 1 << 20
UID_BASE = 61000
OPEN_FILES = 1024  # RLIMIT_NOFILE
LOCK_DIR = "/run/nnlab-sandbox"  # uid-N.lock: held by the kernel manager using uid N
TRIAL_UID = 65534  # nobody: runs check_sandbox's trial, so it never counts against a kernel's cap
NO_SANDBOX = "or run with --no-sandbox to grade unconfined"


class SandboxUnavailable(Exception):
    """A kernel cannot be confined here; the message says why and how to fix it."""


def uid_for_slot(slot, base=UID_BASE):
    """The uid of the kernel run by worker `slot` (0, 1, ...) of a batch: a distinct uid for
    every concurrently running kernel, as RLIMIT_NPROC counts per uid across the host."""
    if slot < 0:
        raise ValueError(f"slot must be >= 0, not {slot}")
    return base + slot


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
        return ("bwrap not found: install Debian's bubblewrap (apt-get install bubblewrap) "
                f"{NO_SANDBOX}")
    for tool in ("prlimit", "setpriv"):
        if not shutil.which(tool):
            return f"{tool} not found: install util-linux (apt-get install util-linux) {NO_SANDBOX}"
    if os.geteuid() != 0:
        return f"must run as root to switch the kernel to an unprivileged uid, {NO_SANDBOX}"
    with tempfile.TemporaryDirectory(prefix="nnlab-sandbox-check-") as folder:
        # a generous process cap: the trial must not depend on how busy `nobody` is
        command = sandbox_command(folder, folder, uid=TRIAL_UID, max_processes=1 << 16)
        try:
            trial = subprocess.run(command + ["true"], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return f"bwrap did not finish a trial run of `true` in 30 s, {NO_SANDBOX}"
    if trial.returncode != 0:
        return (f"bwrap cannot build the sandbox (exit status {trial.returncode}): "
                f"{trial.stderr.strip() or 'no message'}. It needs bubblewrap >= 0.8 and the right "
                "to create namespaces and mounts (in a container: e.g. docker run --privileged), "
                f"{NO_SANDBOX}")
    return ""


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


def _kernel_environment():
    """The kernel's whole environment."""
    one_thread = "1"
    return {
        "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": one_thread, "OPENBLAS_NUM_THREADS": one_thread,
        "MKL_NUM_THREADS": one_thread,
        # the kernel's parent is the sandbox's init (pid 1): ipykernel then skips its parent
        # poller, which would otherwise see the grader's pid as gone and quit
        "JPY_PARENT_PID": "1",
        "PYTHONNOUSERSITE": "1",
    }


def sandbox_command(work_dir, run_dir, *, uid=UID_BASE, memory_limit=2 * GiB, max_processes=128,
                    cpu_seconds=900, file_size_limit=GiB, tmp_size=512 * MiB, read_only=()):
    """The command line to put in front of a kernel's argv to run it confined: `work_dir` and
    `run_dir` (absolute, resolved) read-write, the Python environment and `read_only` read-only.
    """
    environment = _environment_binds(read_only)
    writable = [work_dir, run_dir]
    mounted = ["/usr", *environment, *writable]
    command = [
        "env", "--ignore-signal=INT", shutil.which("bwrap") or "bwrap",
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
        # kept only for setpriv to switch uid and empty the bounding set, then dropped
        "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
        "--cap-add", "CAP_SETPCAP",
        *_system_binds(), "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp",
        "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/dev/shm",
        *_mount_points([*environment, *writable], mounted),
    ]
    for inside in sorted(environment):  # a folder before what is bound inside it
        command += ["--ro-bind", environment[inside], inside]
    for folder in writable:
        command += ["--bind", folder, folder]
    command += ["--chdir", work_dir, "--clearenv"]
    for name, value in _kernel_environment().items():
        command += ["--setenv", name, value]
    command += [
        "--", "prlimit", f"--as={memory_limit}", f"--nproc={max_processes}",
        # SIGXCPU at the soft limit, SIGKILL at the hard one for a kernel that ignores it
        f"--cpu={cpu_seconds}:{cpu_seconds + 5}", f"--fsize={file_size_limit}",
        f"--nofile={OPEN_FILES}", "--core=0",
        "--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
        "--", "env", "--default-signal=INT",
    ]
    return command


async def _wait_until_gone(uid, seconds):
    """Wait up to `seconds` for the processes of `uid` to exit; the pids left."""
    deadline = time.monotonic() + seconds
    while (pids := processes_of(uid)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return pids


def _give(folder, uid):
    """Make `uid` the owner of `folder` and everything in it, so the kernel may change them.
    lchown and os.walk do not follow symlinks: a planted link cannot hand over other files."""
    for root, dirs, files in os.walk(folder):
        os.lchown(root, uid, uid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, uid)


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs confined by bubblewrap (see the module docstring).

    The kernel's working folder is the `cwd` it is started with (nbclient and nbgrader pass the
    notebook's folder): it is the only host folder the kernel may write, and it is given to the
    sandbox uid.
    """

    uid = Integer(UID_BASE, help="uid and gid of the kernel: unprivileged, and distinct for "
                  "every concurrently running kernel (see uid_for_slot)").tag(config=True)
    memory_limit = Integer(2 * GiB, help="bytes of address space per process (RLIMIT_AS): a "
                           "larger allocation raises MemoryError").tag(config=True)
    max_processes = Integer(128, help="processes and threads the kernel's uid may have "
                            "(RLIMIT_NPROC)").tag(config=True)
    cpu_seconds = Integer(900, help="CPU seconds per process (RLIMIT_CPU); then SIGXCPU, and "
                          "SIGKILL 5 s later").tag(config=True)
    file_size_limit = Integer(GiB, help="bytes per file written (RLIMIT_FSIZE)").tag(config=True)
    tmp_size = Integer(512 * MiB, help="bytes of each private tmpfs, /tmp and /dev/shm (memory "
                       "not counted by memory_limit)").tag(config=True)
    read_only_paths = List(Unicode(), help="more host folders the kernel may read, e.g. an "
                           "editable package").tag(config=True)

    @validate("uid")
    def _unprivileged(self, proposal):
        if proposal.value <= 0:
            raise TraitError(f"uid {proposal.value}: the kernel must not run as root")
        return proposal.value

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"  # no network inside the sandbox
        self.run_dir = ""  # the kernel's connection file and sockets, made at first start
        self._uid_lock = None  # held from launch to cleanup: the uid is this kernel's alone

    async def _async_pre_start_kernel(self, **kwargs):
        check_sandbox()
        if not self.run_dir:  # kept across restarts
            # under /tmp: a unix socket's path must fit in 107 bytes
            self.run_dir = tempfile.mkdtemp(prefix="nnlab-kernel-", dir="/tmp")
            os.chown(self.run_dir, self.uid, self.uid)  # the kernel creates its sockets there
            self.ip = os.path.join(self.run_dir, "zmq")
            self.connection_file = os.path.join(self.run_dir, "kernel.json")
        return await super()._async_pre_start_kernel(**kwargs)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        os.chown(self.connection_file, self.uid, self.uid)  # written 0600 for root

    async def _async_launch_kernel(self, kernel_cmd, **kwargs):
        try:
            work_dir = self._working_folder(kwargs.get("cwd"))
            await self._claim_uid()
            _give(work_dir, self.uid)
            prefix = sandbox_command(
                work_dir, self.run_dir, uid=self.uid, memory_limit=self.memory_limit,
                max_processes=self.max_processes, cpu_seconds=self.cpu_seconds,
                file_size_limit=self.file_size_limit, tmp_size=self.tmp_size,
                read_only=self.read_only_paths)
            await super()._async_launch_kernel(prefix + kernel_cmd, **kwargs)
        except BaseException:
            self._release()  # nbclient does not clean up after a failed start
            raise

    async def _claim_uid(self):
        """Lock the uid (across processes) for this kernel, and make sure no process has it:
        kernels sharing a uid would share its process cap."""
        fix = ("give every concurrently running kernel its own uid "
               "(SandboxedKernelManager.uid = uid_for_slot(slot))")
        if self._uid_lock is None:  # on a restart, still held
            os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
            lock = open(os.path.join(LOCK_DIR, f"uid-{self.uid}.lock"), "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                raise SandboxUnavailable(f"uid {self.uid} is taken by another kernel: {fix}")
            self._uid_lock = lock
        # the processes of a kernel just shut down may take a moment to go
        if pids := await _wait_until_gone(self.uid, 2):
            raise SandboxUnavailable(f"uid {self.uid} already runs processes {pids[:10]}: {fix}")

    def _working_folder(self, cwd):
        """The resolved working folder; refused if binding it read-write (and giving it to the
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

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if self._uid_lock is not None:  # a kernel was launched
            # Its processes die with its pid namespace, asynchronously: wait, so that the uid
            # is free for the next kernel, and kill any straggler (the uid is this kernel's).
            for pid in await _wait_until_gone(self.uid, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await _wait_until_gone(self.uid, 5)
        if not restart:
            self._release()

    cleanup_resources = _async_cleanup_resources

    def _release(self):
        """Free the uid and remove the run folder."""
        if self._uid_lock is not None:
            self._uid_lock.close()
            self._uid_lock = None
        if self.run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = ""
