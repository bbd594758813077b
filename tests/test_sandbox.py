"""The sandboxed kernel (nnlab.confinement.sandbox): what a notebook can and cannot do, run twice: as root
(the CI case) and as an ordinary user, that the tests make with useradd, in a virtual environment of
Debian's /usr/bin/python3 that this user can run (see the README). Run by an ordinary user, the
root runs are skipped and the ordinary-user runs happen in this process."""
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).parent))
import sandbox_runner  # noqa: E402 (beside this file)

from nnlab.confinement import sandbox  # noqa: E402
from nnlab.steps.execution import GuardedExecute  # noqa: E402
from nnlab.confinement.sandbox import (GiB, SandboxedKernelManager, SandboxUnavailable,  # noqa: E402
                           check_sandbox, claim_identity, explain_failure, processes_of)

from conftest import ROOT, as_ta  # noqa: E402

# uids for root's kernels away from the default 61000: a grader running meanwhile is not disturbed
UID_BASE = 64000
SECRET = "NNLAB_TEST_SECRET"
# what ipykernel sets in its own environment
IPYKERNEL_SETS = {"TERM", "CLICOLOR", "CLICOLOR_FORCE", "PAGER", "GIT_PAGER", "FORCE_COLOR", "PWD",
                  "PYDEVD_USE_FRAME_EVAL"}


class Runner:
    """Runs sandbox_runner jobs as `who`: "root" in this process, "user" as the ordinary user
    (through runuser, with a clean environment, when the tests run as root)."""

    def __init__(self, who, user, python, code):
        self.who, self.user, self.python, self.code = who, user, python, code

    @property
    def in_process(self):
        return self.who == "root" or not ROOT

    @property
    def owner(self):
        """uid, gid of the files the grader makes."""
        return (0, 0) if self.who == "root" else self.user[1:]

    def __call__(self, job):
        if self.in_process:
            os.environ[SECRET] = "do not leak"
            try:
                return sandbox_runner.run(job)
            finally:
                del os.environ[SECRET]
        done = as_ta(self.user, self.python, self.code, [str(self.code / "sandbox_runner.py")],
                     input=json.dumps(job), extra_env={SECRET: "do not leak"}, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    def notebook(self, folder, sources, **options):
        """Run one notebook; its result (see sandbox_runner.run_notebook)."""
        options.setdefault("traits", {}).setdefault("uid_base", UID_BASE)
        result = self({"notebooks": [dict(folder=str(folder), sources=sources, **options)]})
        return result["results"][0]

    def make_folder(self):
        """An empty folder the runner's user owns."""
        folder = Path(tempfile.mkdtemp(prefix="nnlab-sandbox-test-"))
        os.chown(folder, *self.owner)
        folder.chmod(0o755)
        return folder


@pytest.fixture(params=["root", "user"])
def run(request, ta_user, ta_python, ta_code):
    if request.param == "root" and not ROOT:
        pytest.skip("the root runs need root")
    return Runner(request.param, ta_user, ta_python, ta_code)


@pytest.fixture
def work(run):
    """A working folder student_a/ with a sibling student_b/ holding a secret file, all owned by
    the runner's user."""
    area = run.make_folder()
    for name in ("student_a", "student_b"):
        (area / name).mkdir()
    (area / "student_b" / "secret.txt").write_text("secret answers\n")
    for path in (area / "student_a", area / "student_b", area / "student_b" / "secret.txt"):
        os.chown(path, *run.owner)
    yield area / "student_a"
    shutil.rmtree(area)


def whole_kernel_limits(run):
    """The kind of control group the runner's kernels get, or skip saying why there is none."""
    probe = run({"probe": True})
    if not probe["cgroups"]:
        pytest.skip(f"no whole-kernel limits for {run.who} on this host: {probe['reason']}")
    return probe["cgroups"]


# ---------------------------------------------------------------- confinement, as both users

def test_numpy_works_and_what_the_kernel_writes_stays_in_the_sandbox(run, work):
    """numpy computes; the kernel reads its working folder's files but cannot change them, and
    what it writes there goes to its own size-capped tmpfs, never to the host's disk: afterwards
    the folder holds the grader's files only, unchanged. No run folder is left behind."""
    run_dirs = set(Path("/tmp").glob("nnlab-kernel-*"))
    given = work / "given.txt"
    given.write_text("course file")
    os.chown(given, *run.owner)
    result = run.notebook(work, [
        "import numpy as np\nprint(int(np.arange(10) @ np.arange(10)))",
        "import os\nos.makedirs('out/deep')\nprint(open('out/deep/answer.txt', 'w').write('42'))",
        "print(open('given.txt').read())\ntry:\n    open('given.txt', 'a')\nexcept OSError as e:\n"
        "    print(type(e).__name__)",
    ])
    assert result["outputs"] == ["285\n", "2\n", "course file\nOSError\n"]
    assert sorted(work.rglob("*")) == [given] and given.read_text() == "course file"
    assert {(p.stat().st_uid, p.stat().st_gid) for p in (work, given)} == {run.owner}
    assert not [p for p in set(Path("/tmp").glob("nnlab-kernel-*")) - run_dirs
                if _ours(p.stat().st_uid, run)]


def _ours(uid, run):
    """Whether `uid` is one of the runner's kernels (as root: the test's sandbox uids)."""
    if run.who == "root":
        return UID_BASE <= uid < UID_BASE + sandbox.IDENTITIES
    return uid == run.owner[0]


def test_sibling_folder_is_invisible(run, work):
    """The student's neighbour folder and its secret do not exist for the kernel."""
    area = work.parent
    result = run.notebook(work, [f"import os\nprint(os.listdir({str(area)!r}))",
                                 f"print(os.path.exists({str(area / 'student_b/secret.txt')!r}))"])
    assert result["outputs"] == ["['student_a']\n", "False\n"]


def test_writes_only_inside_working_folder(run, work):
    """Writing into the working folder works (in its tmpfs); next to it or into the environment it
    fails."""
    attempt = ("try:\n    open({!r}, 'w').write('x')\n"
               "except OSError as e:\n    print(type(e).__name__)")
    python_prefix = "import sys\n" + attempt.replace("{!r}", "sys.prefix + '/escape.txt'")
    result = run.notebook(work, [
        "print(open('answer.txt', 'w').write('42'))",
        attempt.format(str(work.parent / "escape.txt")),
        python_prefix,
        attempt.format("/usr/escape.txt"),
    ])
    assert result["outputs"][0] == "2\n"
    # As root the folder is not the sandbox uid's. An ordinary user's kernel owns the folders
    # bwrap made in its private /tmp (here the parent): its write stays there, off the host.
    assert result["outputs"][1] == "PermissionError\n" or run.who == "user"
    assert result["outputs"][2] == result["outputs"][3] == "OSError\n"  # read-only file system
    assert not (work / "answer.txt").exists()  # the write stayed in the sandbox
    assert not (work.parent / "escape.txt").exists()
    assert not (work.parent / "escape.txt").exists() and not Path("/usr/escape.txt").exists()


def test_no_tcp_to_the_host(run, work):
    """A listener on the host's 127.0.0.1 cannot be reached from the kernel."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        result = run.notebook(work, [
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "except OSError as e:\n    print(type(e).__name__)"])
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing came in
    assert result["outputs"] == ["ConnectionRefusedError\n"]


def test_own_pid_namespace_no_privileges(run, work):
    """The kernel sees only its own few processes, cannot signal the grader, has no
    capabilities and cannot gain privileges."""
    result = run.notebook(work, [
        "import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]) < 10)",
        f"try:\n    os.kill({os.getpid()}, 0)\nexcept OSError as e:\n    print(type(e).__name__)",
        "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "print(status['CapEff'].strip(), status['CapBnd'].strip(), status['NoNewPrivs'].strip())",
    ])
    assert result["outputs"] == ["True\n", "ProcessLookupError\n",
                                 "0000000000000000 0000000000000000 1\n"]


def test_environment_is_cleared(run, work):
    """None of the grader's variables reach the kernel; it gets its own few."""
    result = run.notebook(work, ["import os\nprint(sorted(os.environ))"])
    names = eval(result["outputs"][0])  # a printed list of names
    assert SECRET not in names
    assert set(names) <= set(sandbox.kernel_environment()) | IPYKERNEL_SETS


def test_infinite_loop_is_interrupted(run, work):
    """A cell looping forever is interrupted at the timeout, and the next cell runs."""
    result = run.notebook(work, ["while True:\n    pass", "print('next')"], timeout=2,
                          interrupt_on_timeout=True)
    assert "KeyboardInterrupt" in result["outputs"][0]
    assert result["outputs"][1] == "next\n"


def test_memory_error_keeps_kernel_alive(run, work):
    """Allocating more than the memory limit at once raises MemoryError; the kernel lives on."""
    result = run.notebook(work, ["x = bytearray(5 << 30)", "print('alive')"])
    assert result["outputs"][0].startswith("MemoryError")
    assert result["outputs"][1] == "alive\n"


MEMORY_HOG = """\
import os
children = []
for _ in range(16):
    pid = os.fork()
    if pid == 0:
        block = b'\\1' * (1 << 30)  # 1 GiB, every page written
        os._exit(0)
    children.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
print(sum(code == -9 for code in codes), 'killed')"""

BYSTANDER = ("import time, numpy as np\nfor _ in range(20):\n    time.sleep(0.2)\n"
             "print(int(np.ones(1000).sum()))")


def test_many_children_stop_at_the_whole_kernel_memory_limit(run, work):
    """16 children each writing 1 GiB: the OOM killer takes some at the kernel's 2 GiB; the
    host's available memory never drops by more than that plus 1 GiB; another kernel grading at the
    same time finishes; the limit hit is reported."""
    whole_kernel_limits(run)
    neighbour = run.make_folder()
    try:
        answer = run({"watch": True, "notebooks": [
            dict(folder=str(work), sources=[MEMORY_HOG, "print('alive')"],
                 traits={"memory_limit": 2 * GiB, "uid_base": UID_BASE}, timeout=120),
            dict(folder=str(neighbour), sources=[BYSTANDER], traits={"uid_base": UID_BASE})]})
    finally:
        shutil.rmtree(neighbour)
    hog, bystander = answer["results"]
    killed = int(hog["outputs"][0].split()[0]) if hog["outputs"][0] else 16
    assert killed >= 1 or hog["died"], hog
    assert hog["limit_hit"] == "memory"
    assert hog["limit_message"] == "the kernel hit the memory limit (2 GiB for the whole kernel)"
    # a margin of 1 GiB for the host's other work
    assert answer["host"]["memory_drop"] < 2 * GiB + GiB, answer["host"]
    assert bystander["outputs"] == ["1000\n"]


FORK_BOMB = """\
import os, time
children = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            os.execvp('sleep', ['sleep', '61.17'])
        children += 1
except OSError as e:
    print(type(e).__name__)
time.sleep(2)  # the bomb at full size while the TA goes on working
print(children)"""


def test_fork_bomb_stops_at_the_process_limit(run, work):
    """Forking without bound stops below the process limit; the grader's user can still start
    processes meanwhile; the limit hit is reported (where a control group counts it); no child
    outlives the kernel."""
    answer = run({"watch": True, "notebooks": [dict(
        folder=str(work), sources=[FORK_BOMB, "print('alive')"],
        traits={"max_processes": 64, "uid_base": UID_BASE})]})
    result = answer["results"][0]
    error, children = result["outputs"][0].split()
    assert error == "BlockingIOError" and 0 < int(children) < 64
    assert result["outputs"][1] == "alive\n"
    assert answer["host"]["spawn_failures"] == 0 and answer["host"]["spawned"] >= 5
    if result["confinement"].startswith("cgroup"):
        assert result["limit_hit"] == "processes"
    else:
        mine = "of its own uid" if run.who == "root" else "beyond the user's own"
        assert f"64 processes {mine}" in result["confinement"]
    assert not [pid for pid in _pids() if _cmdline(pid) == ["sleep", "61.17"]]


def _pids():
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit()]


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return None


def test_cpu_time_of_the_whole_kernel(run, work):
    """Three busy processes share one CPU-time limit: the kernel is stopped when together they
    used it, long before each used it alone."""
    whole_kernel_limits(run)
    busy = ("import os\nfor _ in range(2):\n    if os.fork() == 0:\n        break\n"
            "while True:\n    pass")
    result = run.notebook(work, [busy], traits={"cpu_seconds": 3}, timeout=60)
    assert result["died"] == "DeadKernelError"
    assert result["limit_hit"] == "cpu"
    assert "3 s of CPU time for the whole kernel" in result["limit_message"]


def test_confinement_is_stated(run, work):
    """The confinement line says which limits hold: the whole kernel's where a control group can
    be had, per process (relative to the user's own processes) elsewhere."""
    probe = run({"probe": True})
    result = run.notebook(work, ["1"])
    if probe["cgroups"]:
        assert result["confinement"].startswith("cgroup")
        assert ("memory 4 GiB, 256 processes, CPU 900 s for the whole kernel"
                in result["confinement"])
    else:
        assert result["confinement"].startswith(f"per-process limits only ({probe['reason']})")
    assert result["limit_hit"] is None


# ---------------------------------------------------------------- several graders on one host

def test_kernels_claim_distinct_identities(run, work):
    """Kernels started at once, each without being told an identity, get distinct ones."""
    other = run.make_folder()
    try:
        answer = run({"notebooks": [dict(folder=str(folder), sources=["1"],
                                         traits={"uid_base": UID_BASE})
                                    for folder in (work, other, work.parent / "student_b")]})
    finally:
        shutil.rmtree(other)
    identities = [result["identity"] for result in answer["results"]]
    assert len(set(identities)) == 3
    if run.who == "root":
        assert all(UID_BASE <= result["uid"] < UID_BASE + sandbox.IDENTITIES
                   for result in answer["results"])


def test_identity_in_use_is_skipped():
    """An identity another grader holds (its lock) is skipped, not waited for or shared; as
    root, so is a uid that runs processes."""
    first = claim_identity(uid_base=UID_BASE)
    second = claim_identity(uid_base=UID_BASE)
    try:
        assert first.name != second.name
        if ROOT:
            assert second.uid == first.uid + 1
            with pytest.raises(SandboxUnavailable, match=f"uid {first.uid} is in use"):
                claim_identity(uid=first.uid)
    finally:
        first.release()
        second.release()


# ---------------------------------------------------------------- the grader's view

def test_guarded_execute_names_the_limit_hit(tmp_path):
    """GuardedExecute keeps the confinement line and says which limit a kernel hit: a cell
    refused a process (the kernel lives on), a kernel stopped for its CPU time (it died)."""
    check_sandbox()
    try:
        sandbox.cgroups.kind()
    except sandbox.cgroups.NoCgroup as error:
        pytest.skip(f"no whole-kernel limits here: {error}")
    nb = new_notebook(cells=[new_code_cell(FORK_BOMB.replace("time.sleep(2)", "")),
                             new_code_cell("while True:\n    pass"), new_code_cell("1")])
    config = Config({"SandboxedKernelManager": {"max_processes": 48, "cpu_seconds": 6,
                                                "uid_base": UID_BASE}})
    guarded = GuardedExecute(config=config, timeout=60)
    guarded.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    kinds = {event["kind"]: event["message"] for event in guarded.events}
    assert kinds["processes"] == ("the kernel hit the processes limit (48 processes and "
                                  "threads for the whole kernel)")
    assert kinds["died"] == "the kernel hit the cpu limit (6 s of CPU time for the whole kernel)"
    assert guarded.confinement.startswith("cgroup")


# ---------------------------------------------------------------- refusals

def test_missing_bwrap_is_explained(monkeypatch):
    """Without bwrap, check_sandbox says how to install it or to grade unconfined."""
    monkeypatch.setattr(sandbox, "_verdict", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable,
                       match=r"apt-get install bubblewrap.*--no-sandbox to grade unconfined$"):
        check_sandbox()


@pytest.mark.parametrize("setting, value, fix", [
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "kernel.apparmor_restrict_unprivileged_userns=0"),
])
def test_no_user_namespaces_is_explained(monkeypatch, setting, value, fix):
    """Without user namespaces, the refusal names the setting, its fix, then --no-sandbox."""
    monkeypatch.setattr(sandbox, "is_root", lambda: False)
    message = explain_failure("setting up uid map: Permission denied",
                              read_setting={setting: value}.get)
    assert setting in message and "Permission denied" in message
    assert message.index(fix) < message.index("--no-sandbox") and message.endswith("unconfined")


def test_user_without_user_namespaces_is_refused(as_root, ta_user, ta_python, ta_code):
    """An ordinary user on a host where user namespaces are disabled (here: in a user namespace
    that allows no more) is refused with the cause, the setting that fixes it, --no-sandbox."""
    check = "from nnlab.confinement.sandbox import check_sandbox\ncheck_sandbox()"
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "without_user_namespaces.py"),
         str(ta_user[1]), str(ta_user[2]), "env", "-i", f"PYTHONPATH={ta_code}",
         "PATH=/usr/bin:/bin", ta_python, "-c", check],
        capture_output=True, text=True, cwd="/", timeout=60)
    assert done.returncode == 1
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("nnlab.confinement.sandbox.SandboxUnavailable: user namespaces are disabled "
                              "for ordinary users (/proc/sys/user/max_user_namespaces is 0)")
    assert message.index("sysctl -w user.max_user_namespaces") < message.index("--no-sandbox")


def test_container_without_user_namespaces_is_explained(monkeypatch):
    """In a container that forbids namespaces, the refusal says so and what to change."""
    monkeypatch.setattr(sandbox, "is_root", lambda: False)
    monkeypatch.setattr(sandbox, "_in_container", lambda: True)
    message = explain_failure("No permissions to create new namespace", read_setting=lambda p: None)
    assert message.startswith("this container does not allow user namespaces")
    assert message.index("seccomp=unconfined") < message.index("--no-sandbox")


def test_no_process_of_the_uid_left_after_shutdown(tmp_path):
    """As root, a kernel shut down by its manager leaves no process of its uid, free for the
    next kernel (an ordinary user's kernels: see the fork bomb)."""
    if not ROOT:
        pytest.skip("root's kernels only")

    async def start_and_stop():
        km = SandboxedKernelManager(uid_base=UID_BASE)
        await km.start_kernel(cwd=str(tmp_path))
        uid = km.identity.uid
        for _ in range(100):  # the kernel switches to its uid a moment after it is launched
            if processes_of(uid):
                break
            await asyncio.sleep(0.05)
        assert processes_of(uid)
        await km.shutdown_kernel(now=True)
        return uid
    assert processes_of(asyncio.run(start_and_stop())) == []


def test_v2_counters_name_the_limit(tmp_path, monkeypatch):
    """The cgroup v2 counters (this host may have none to run a kernel in) are read as the limit
    hit: an OOM kill is the memory limit, a refused fork the process limit; CPU time is read."""
    monkeypatch.setattr(sandbox.cgroups, "_kind", "v2")
    monkeypatch.setattr(sandbox.cgroups, "_v2_mount", lambda: str(tmp_path))
    for folder in (tmp_path, tmp_path / "nnlab"):  # what the kernel's cgroupfs would show
        folder.mkdir(exist_ok=True)
        (folder / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    group = sandbox.cgroups.KernelGroup("test", GiB, 64)
    folder = tmp_path / "nnlab" / "test"
    assert (folder / "memory.max").read_text() == str(GiB)
    assert (folder / "pids.max").read_text() == "64"
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n")
    (folder / "pids.events").write_text("max 3\n")
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\n")
    group.poll()
    assert (group.oom_kills, group.refused_forks, group.cpu) == (1, 3, 2.5)
    assert group.prefix()[:2] == ["sh", "-c"] and str(folder / "cgroup.procs") in group.prefix()[2]
