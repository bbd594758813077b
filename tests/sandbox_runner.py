"""Run notebooks of code cells in sandboxed kernels, concurrently, and report what happened.

Imported by tests/test_sandbox.py to run as the test's own user (root on CI), and run as a script
(`python sandbox_runner.py < job.json`, result as JSON on stdout) to run as an ordinary user, in
an environment that needs only nbclient, ipykernel and this package.
"""
import asyncio
import json
import os
import subprocess
import sys
import threading
import time

from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from nnlab.confinement import cgroups
from nnlab.confinement.sandbox import SandboxedKernelManager

MEMINFO_KEY = "MemAvailable:"


def cell_text(cell):
    """Streams, results as text/plain, and errors as 'Name: value', joined."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}\n")
        else:
            parts.append(out.get("data", {}).get("text/plain", "") + "\n")
    return "".join(parts)


async def run_notebook(folder, sources, traits=None, timeout=30, interrupt_on_timeout=False):
    """Run the cells `sources` in `folder`; {"outputs", "confinement", "limit_hit", "identity"}.
    A cell that kills its kernel ends the notebook, as in nbgrader."""
    km = SandboxedKernelManager(**(traits or {}))
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=True,
                            interrupt_on_timeout=interrupt_on_timeout,
                            resources={"metadata": {"path": folder}})
    result = {"identity": None, "died": None}
    async with client.async_setup_kernel(cleanup_kc=True):
        result["identity"] = km.identity.name
        result["uid"] = km.identity.uid
        for index, cell in enumerate(nb.cells):
            try:
                await client.async_execute_cell(cell, index)
            except Exception as error:  # a dead kernel: what nbgrader would report
                result["died"] = type(error).__name__
                break
        result["confinement"] = km.confinement
    result["limit_hit"] = km.limit_hit()
    result["limit_message"] = km.limit_message()
    result["outputs"] = [cell_text(cell) for cell in nb.cells]
    return result


class HostWatch:
    """While running: the lowest MemAvailable of the host, and whether this user could start a
    process every 0.2 s (the TA's own work going on)."""

    def __init__(self):
        self.start_available = self.lowest_available = _available()
        self.spawned = self.spawn_failures = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._memory),
                         threading.Thread(target=self._spawn)]

    def _memory(self):
        while not self._stop.wait(0.02):
            self.lowest_available = min(self.lowest_available, _available())

    def _spawn(self):
        while not self._stop.wait(0.2):
            try:
                subprocess.run(["true"], check=True, timeout=10)
                self.spawned += 1
            except (OSError, subprocess.SubprocessError):
                self.spawn_failures += 1

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def report(self):
        return {"memory_drop": self.start_available - self.lowest_available,
                "spawned": self.spawned, "spawn_failures": self.spawn_failures}


def _available():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith(MEMINFO_KEY):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


async def _run_all(notebooks):
    return await asyncio.gather(*(run_notebook(**notebook) for notebook in notebooks))


def run(job):
    """job: {"notebooks": [run_notebook's arguments], "watch": bool} -> {"results", "host"};
    {"probe": true} -> {"cgroups": the kind of control group kernels get, or why none}."""
    if job.get("probe"):
        try:
            return {"cgroups": cgroups.kind(), "uid": os.getuid()}
        except cgroups.NoCgroup as error:
            return {"cgroups": None, "reason": str(error), "uid": os.getuid()}
    started = time.monotonic()
    if job.get("watch"):
        with HostWatch() as watch:
            results = asyncio.run(_run_all(job["notebooks"]))
        host = watch.report()
    else:
        results, host = asyncio.run(_run_all(job["notebooks"])), None
    return {"results": results, "host": host, "seconds": time.monotonic() - started,
            "uid": os.getuid()}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
