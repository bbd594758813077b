"""The grader's side of the judge: starts the judge's process and relays its requests.

`Judge.run(source, ask)` runs a test cell in the judge; each request the judge makes of the
student's kernel goes to `ask(request)`, a coroutine of the grader that sends it to the kernel
(`install_code` and `serve_code` say how) and returns the kernel's reply text. If `ask` raises
`Unanswered`, the judge is told the kernel stopped answering and the cell ends with that error;
any other exception (a dead kernel) ends the cell the same way and is raised again.
"""
import ast
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from .. import THREAD_LIMITS
from ..notebooks import parse_cell
from . import channel

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # where `nnlab` is imported from

CHANNEL = "_nnlab_channel"  # its name in the kernel's namespace


class Unanswered(Exception):
    """The kernel gave no usable answer to a request (interrupted, or its answer unreadable)."""


class JudgeFailed(RuntimeError):
    """The judge's process ended or answered nonsense: the course's fault, never a student's."""


def install_code():
    """Code that puts the channel's kernel end (`channel.serve`) in the kernel, under CHANNEL."""
    return (f"import types as _nnlab_types\n{CHANNEL} = _nnlab_types.ModuleType('nnlab_channel')\n"
            f"exec(compile({channel.source()!r}, {channel.CHANNEL_FILE!r}, 'exec'), {CHANNEL}.__dict__)\n"
            "del _nnlab_types")


def serve_code(path):
    """The expression that answers the judge's requests of one test cell over a unix socket at
    `path` (in the kernel's file system): see `channel.serve_socket`."""
    return f"{CHANNEL}.serve_socket(globals(), {path!r})"


def answer_text(line):
    """The kernel's answer to one request, a line read from the socket; None if the line was cut
    off (the kernel's end stopped: its request says why); Unanswered if it is unusable. The
    channel's JSON is one line of ASCII: anything else (a kernel whose channel the student
    replaced) would break the judge's framing."""
    if not line.endswith(b"\n"):
        return None
    text = line[:-1]
    if not text.isascii() or b"\r" in text:
        raise Unanswered("the kernel's answer could not be read")
    return text.decode("ascii")


def definitions(source):
    """The imports, function and class definitions among a course cell's top-level statements:
    what the judge needs of a provided cell (its data and training runs stay in the kernel)."""
    tree = parse_cell(source)
    if tree is None:
        return ""
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return "\n\n".join(ast.unparse(node) for node in tree.body if isinstance(node, kept))


def defined_function(source, name):
    """The source of the top-level `def name` in a cell, or None."""
    tree = parse_cell(source)
    for node in tree.body if tree else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return ast.unparse(node)
    return None


class Judge:
    """A judge process for one notebook (see `nnlab.judge.process`)."""

    def __init__(self, process):
        self._process = process

    @classmethod
    def start(cls, course_folder):
        """A judge whose course code (`labkit`) comes from `course_folder`; it imports that code
        while the grader goes on (see `process.main`)."""
        path = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
        environment = dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg", **THREAD_LIMITS)
        # a plain Popen, bound to no event loop (nbclient runs each cell in a loop of its own
        # choosing); its stderr is the grader's, which is the grading log
        process = subprocess.Popen([sys.executable, "-m", "nnlab.judge.process", str(course_folder)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)
        return cls(process)

    async def define(self, source):
        """Run course definitions in the judge: their outputs (an error if they failed)."""
        return await self._exchange({"define": source}, None)

    async def run(self, source, ask):
        """Run a test cell: its outputs."""
        return await self._exchange({"run": source}, ask)

    def kill(self):
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    async def _exchange(self, message, ask):
        await self._send(message)
        stopped = None
        while True:
            received = await self._receive()
            if "done" in received:
                if stopped is not None:
                    raise stopped
                return received["done"]
            if stopped is not None:
                await self._send({"abort": "stopped"})
                continue
            try:
                text = await ask(received["ask"])
                await self._send({"reply": True}, text)
            except Unanswered as why:
                await self._send({"abort": str(why)})
            except Exception as error:  # the kernel died: end the cell, then let the caller know
                stopped = error
                try:
                    await self._send({"abort": str(error) or type(error).__name__})
                except JudgeFailed:  # the judge is gone too: the kernel's death is the news
                    raise error from None

    async def _send(self, message, text=None):
        """Send a message, and a line of text after it; the judge reads every message whole
        before it writes again, so this cannot block for long."""
        line = json.dumps(message) + "\n" + ("" if text is None else text + "\n")
        try:
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()
        except (ConnectionError, BrokenPipeError, ValueError):
            raise JudgeFailed(f"the judge's process is gone ({await self._ending()})") from None

    async def _receive(self):
        line = await asyncio.to_thread(self._process.stdout.readline)
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not ({"done", "ask"} & set(message)):
            raise JudgeFailed(f"the judge's process answered {line[:200]!r} ({await self._ending()})")
        return message

    async def _ending(self):
        """How the judge's process ended, for the log (killed if it had not)."""
        try:
            code = await asyncio.to_thread(self._process.wait, 2)
        except subprocess.TimeoutExpired:
            self.kill()
            return "it was still running, now killed"
        return f"exit status {code}" if code >= 0 else f"killed by signal {-code}"
