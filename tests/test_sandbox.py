"""The sandboxed kernel (nnlab.grading.sandbox) run through nbgrader's Execute: what a notebook can and
cannot do. Needs root and bubblewrap: without them the tests fail with check_sandbox's reason."""
import asyncio
import os
import shutil
import socket
import sys

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.preprocessors import Execute
from traitlets.config import Config

from nnlab.grading import sandbox
from nnlab.grading.sandbox import (SandboxedKernelManager, SandboxUnavailable, check_sandbox, processes_of,
                           uid_for_slot)

# A uid of its own per test run: a concurrent run elsewhere must not share its process cap.
UID = uid_for_slot(900 + os.getpid() % 100)


def run_cells(folder, sources, sandbox_traits=None, **options):
    """Run a notebook of code cells `sources` in `folder` through nbgrader's Execute (`options`)
    with the sandboxed kernel (uid UID, `sandbox_traits`); the text output of each cell."""
    config = Config({"SandboxedKernelManager": {"uid": UID, **(sandbox_traits or {})}})
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    options.setdefault("timeout", 30)
    Execute(kernel_manager_class=SandboxedKernelManager, config=config, **options).preprocess(
        nb, {"metadata": {"path": str(folder)}})
    return [cell_text(cell) for cell in nb.cells]


def cell_text(cell):
    """Streams, results as text/plain, and errors as 'Name: value', joined."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n")
        else:
            parts.append(out.get("data", {}).get("text/plain", "") + "\n")
    return "".join(parts)


@pytest.fixture
def work(tmp_path):
    """A working folder student_a/ with a sibling student_b/ holding a secret file."""
    (tmp_path / "student_b").mkdir()
    (tmp_path / "student_b" / "secret.txt").write_text("secret answers\n")
    (tmp_path / "student_a").mkdir()
    return tmp_path / "student_a"


def test_check_sandbox_passes():
    """bubblewrap can build the sandbox on this host."""
    check_sandbox()


def test_missing_bwrap_is_explained(monkeypatch):
    """Without bwrap, check_sandbox says how to install it or to grade unconfined."""
    monkeypatch.setattr(sandbox, "_verdict", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match=r"apt-get install bubblewrap.*--no-sandbox"):
        check_sandbox()


def test_uid_per_slot():
    """Concurrent slots get distinct uids above the base."""
    assert [uid_for_slot(slot) for slot in range(3)] == [61000, 61001, 61002]


def test_one_kernel_per_uid(work):
    """A second kernel on a uid in use is refused, pointing to uid_for_slot."""
    async def start_two():
        first = SandboxedKernelManager(uid=UID)
        await first.start_kernel(cwd=str(work))
        try:
            with pytest.raises(SandboxUnavailable, match="uid_for_slot"):
                await SandboxedKernelManager(uid=UID).start_kernel(cwd=str(work))
            assert await first.is_alive()
        finally:
            await first.shutdown_kernel(now=True)
    asyncio.run(start_two())
    assert processes_of(UID) == []


def test_numpy_and_matplotlib_work(work):
    """numpy computes and matplotlib (Agg) saves a png into the working folder."""
    out = run_cells(work, [
        "import numpy as np\nprint(int(np.arange(10) @ np.arange(10)))",
        "import matplotlib, matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"
        "plt.savefig('plot.png')\nprint(matplotlib.get_backend())",
    ])
    assert out == ["285\n", "Agg\n"]
    assert (work / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (work / "plot.png").stat().st_uid == UID


def test_extra_arguments_reach_the_kernel(work):
    """Execute's extra_arguments end up on the kernel's command line."""
    out = run_cells(work, ["get_ipython().cache_size"],
                    extra_arguments=["--InteractiveShell.cache_size=1234"])
    assert out == ["1234\n"]


def test_sibling_folder_is_invisible(work):
    """The student's neighbour folder and its secret do not exist for the kernel."""
    area = work.parent
    out = run_cells(work, [f"import os\nprint(os.listdir({str(area)!r}))",
                           f"print(os.path.exists({str(area / 'student_b/secret.txt')!r}))"])
    assert out == ["['student_a']\n", "False\n"]


def test_writes_only_inside_working_folder(work):
    """Writing into the working folder works; next to it or into the venv it fails."""
    attempt = ("try:\n    open({!r}, 'w').write('x')\n"
               "except OSError as e:\n    print(type(e).__name__)")
    out = run_cells(work, [
        "print(open('answer.txt', 'w').write('42'))",
        attempt.format(str(work.parent / "escape.txt")),
        attempt.format(os.path.join(sys.prefix, "escape.txt")),
    ])
    assert out == ["2\n", "PermissionError\n", "OSError\n"]
    assert (work / "answer.txt").read_text() == "42"
    assert not (work.parent / "escape.txt").exists()
    assert not os.path.exists(os.path.join(sys.prefix, "escape.txt"))


def test_no_tcp_to_the_host(work):
    """A listener on the host's 127.0.0.1 cannot be reached from the kernel."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        out = run_cells(work, [
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "except OSError as e:\n    print(type(e).__name__)"])
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing came in
    assert out == ["ConnectionRefusedError\n"]


def test_memory_error_keeps_kernel_alive(work):
    """Allocating 4 GiB raises MemoryError in the kernel, which keeps running."""
    out = run_cells(work, ["x = bytearray(4 << 30)", "print('alive')"])
    assert out[0].startswith("MemoryError")
    assert out[1] == "alive\n"


def test_fork_bomb_is_contained(work):
    """Forking 200 sleepers stops below the process cap, and none outlives the kernel."""
    out = run_cells(work, [
        "import os, time\nchildren = 0\ntry:\n    for _ in range(200):\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n"
        "        children += 1\nexcept OSError as e:\n    print(type(e).__name__)\nprint(children)",
        "print('alive')",
    ], sandbox_traits={"max_processes": 40})
    error, children = out[0].split()
    assert error == "BlockingIOError" and 0 < int(children) < 40
    assert out[1] == "alive\n"
    assert processes_of(UID) == []


def test_infinite_loop_is_interrupted(work):
    """A cell looping forever is interrupted at the timeout, and the next cell runs."""
    out = run_cells(work, ["while True:\n    pass", "print('next')"], timeout=2)
    assert out[0].startswith("KeyboardInterrupt")
    assert out[1] == "next\n"
