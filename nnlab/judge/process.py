"""The judge's process: the course's test cells run here, out of the student's reach.

The grader (`nnlab.judge.client.Judge`) starts one per notebook, with the assignment's release
folder (the course's own `labkit`) first on the path, and talks to it one JSON object per line:

    grader -> judge   {"define": source}  the course's imports and definitions (provided cells)
                      {"run": source}     a test cell
    judge -> grader   {"ask": request}    a request for the student's kernel; the grader answers
                                          {"reply": text} or {"abort": why}
                      {"done": outputs}   the cell's outputs, in nbformat's form

A name a test cell uses that the course's definitions, the earlier test cells and Python's
builtins leave unbound is read from the student's kernel: a function there becomes a
`StudentFunction`, whose calls run in the kernel; a value arrives as plain data (`channel`).
Everything the tests print goes to the cell's stdout, with what student code printed or warned
during a call; nothing goes to stderr, as nbgrader would score that 0.
"""
import builtins
import contextlib
import faulthandler
import io
import json
import os
import sys
import warnings

import numpy as np

from .channel import NotPlainData, PLAIN, decode, encode


class Aborted(BaseException):
    """The student's kernel stopped answering (interrupted at its time limit, killed, dead).
    Not an Exception: a test's `except Exception` must not carry on without the kernel."""


class StudentError(Exception):
    """An exception raised by student code, named as the student's."""

    lines = ()  # the student's own traceback lines


_ERROR_TYPES = {}


def student_error(error):
    """An exception for the student-side `error` {"type", "message", "traceback"}: a subclass of
    `StudentError` and, for Python's own exception types, of that type too (a test's
    `except ValueError` still catches the student's ValueError)."""
    name = str(error.get("type", "Exception"))
    if name not in _ERROR_TYPES:
        base = getattr(builtins, name, None)
        bases = (StudentError,)
        if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
            bases += (base,)
        try:
            _ERROR_TYPES[name] = type(name, bases, {})
        except TypeError:  # a built-in type whose layout does not mix (OSError and kin)
            _ERROR_TYPES[name] = type(name, (StudentError,), {})
    exception = _ERROR_TYPES[name](str(error.get("message", "")))
    exception.lines = [str(line) for line in error.get("traceback", [])]
    return exception


class StudentFunction:
    """A function of the student's notebook: calling it runs it in the student's kernel."""

    def __init__(self, kernel, name):
        self.name, self._kernel = name, kernel

    def __call__(self, *args, **kwargs):
        return self._kernel.call(self.name, args, kwargs)

    def __repr__(self):
        return f"<your function {self.name}>"


class Kernel:
    """The student's kernel, as the judge reaches it: through the grader, in plain data."""

    def __init__(self, requests, answers):
        self._requests, self._answers = requests, answers
        self._synced = None  # the random stream as both sides last agreed on it

    def ask(self, request):
        self._requests.write(json.dumps({"ask": request}) + "\n")
        self._requests.flush()
        answer = json.loads(self._answers.readline() or '{"abort": "the grader is gone"}')
        if "abort" in answer:
            raise Aborted(answer["abort"])
        try:  # the student's side wrote this line: it is parsed here alone, once
            reply = json.loads(self._answers.readline())
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise Aborted("the kernel's answer could not be read")
        return reply

    def lookup(self, name):
        """What the notebook bound to `name` (KeyError if nothing)."""
        reply = self.ask({"op": "lookup", "name": name})
        kind = reply.get("kind")
        if kind == "function":
            return StudentFunction(self, name)
        if kind == "value":
            return _decoded(reply["value"], f"{name} in your notebook")
        if kind == "other":
            raise TypeError(f"{name} in your notebook is {reply.get('what')}; the tests need {PLAIN}")
        raise KeyError(name)

    def call(self, name, args, kwargs):
        def functions(value):
            return value.name if isinstance(value, StudentFunction) else None
        try:
            request = {"op": "call", "name": name, "args": encode(tuple(args), functions),
                       "kwargs": encode(dict(kwargs), functions), "random": self._moved()}
        except NotPlainData as error:
            raise TypeError(f"the test cannot send {error} to {name}") from None
        reply = self.ask(request)
        _show(reply)
        self._agree(reply.get("random"), request["random"])
        _write_back(args, kwargs, reply.get("changed", {}))
        if "error" in reply:
            raise student_error(reply["error"])
        return _decoded(reply.get("value"), f"what {name} returned")

    # The legacy global random stream (np.random.seed, np.random.rand) is one stream, as if the
    # test ran in the kernel: the judge starts each cell from the kernel's, sends it along with a
    # call when the test moved it, and takes the kernel's back when the call moved it.

    def begin_cell(self):
        state = self.ask({"op": "random"})["state"]
        np.random.set_state(decode(state))
        self._synced = np.random.get_state()

    def end_cell(self):
        if self._moved() is not None:
            self.ask({"op": "random", "state": encode(np.random.get_state())})

    def _moved(self):
        """The judge's random stream, if it moved since both sides agreed; else None."""
        state = np.random.get_state()
        return None if _same(state, self._synced) else encode(state)

    def _agree(self, theirs, sent):
        if theirs is not None:
            np.random.set_state(_decoded(theirs, "the random stream"))
        if theirs is not None or sent is not None:
            self._synced = np.random.get_state()


def _same(a, b):
    return b is not None and all(np.array_equal(x, y) for x, y in zip(a, b))


def _decoded(data, what):
    try:
        return decode(data, arrays=True)
    except (NotPlainData, ValueError, TypeError, KeyError) as error:
        raise TypeError(f"{what} could not be read as {PLAIN}: {error}") from None


def _show(reply):
    """What the student's code printed and warned during a call, on the test's stdout."""
    if reply.get("printed"):
        print(reply["printed"], end="" if str(reply["printed"]).endswith("\n") else "\n")
    for warning in reply.get("warnings", []):
        print(f"Warning from your code: {warning}")


def _write_back(args, kwargs, changed):
    """Arguments the student's function changed in place change here too (a bn_param it fills,
    a cache it overwrites)."""
    for index, data in changed.get("args", {}).items():
        _update(args[int(index)], decode(data))
    for name, data in changed.get("kwargs", {}).items():
        _update(kwargs[name], decode(data))


def _update(original, new):
    """Make `original` hold `new` in place, as far as it can; whether it could (an array keeps
    its shape and dtype, a tuple its length)."""
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape != new.shape or original.dtype != new.dtype or not original.flags.writeable:
            return False
        np.copyto(original, new)
    elif type(original) is dict and type(new) is dict:
        for key in [key for key in original if key not in new]:
            del original[key]
        for key, value in new.items():  # an entry replaced, or changed beyond repair, is replaced
            if key not in original or not _update(original[key], value):
                original[key] = value
    elif type(original) is list and type(new) is list:
        original[:] = new
    elif type(original) is tuple and type(new) is tuple and len(original) == len(new):
        return all([_update(old, value) for old, value in zip(original, new)])
    else:
        return original is new or (np.isscalar(original) and original == new)
    return True


class Names(dict):
    """The test cells' namespace: the course's definitions and the tests' own names; any other
    name is looked up in the student's kernel, afresh in each cell."""

    def __init__(self, kernel):
        super().__init__()
        self._kernel, self._fetched = kernel, {}

    def __missing__(self, name):
        if name.startswith("__") or hasattr(builtins, name):
            raise KeyError(name)  # Python goes on to the builtins
        if name not in self._fetched:
            try:
                self._fetched[name] = self._kernel.lookup(name)
            except KeyError:
                self._fetched[name] = KeyError
        if self._fetched[name] is KeyError:
            raise KeyError(name)
        return self._fetched[name]

    def new_cell(self):
        self._fetched.clear()


def run(source, names, kernel, label):
    """Run course code (`label`: "test" or "course") in `names`: its outputs."""
    printed = io.StringIO()
    error = None
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tests' own warnings are no one's business
        try:
            code = compile(source, f"<{label}>", "exec")
            if label == "test":
                names.new_cell()
                kernel.begin_cell()
            exec(code, names)
            if label == "test":
                kernel.end_cell()
        except Aborted as stop:
            error = _error("KernelStopped", f"your kernel stopped answering: {stop}")
        except StudentError as failure:
            error = _error(type(failure).__name__, str(failure), failure.lines)
        except Exception as failure:
            error = _error(type(failure).__name__, str(failure))
    outputs = [{"output_type": "stream", "name": "stdout", "text": printed.getvalue()}] \
        if printed.getvalue() else []
    return outputs + ([error] if error else [])


def _error(name, message, lines=()):
    return {"output_type": "error", "ename": name, "evalue": message,
            "traceback": [*lines, f"{name}: {message}"]}


def _import_ahead():
    """Import the course's modules before the first request: the judge is started with the
    notebook's kernel, so this happens while the kernel starts and runs its first cells. A module
    that fails here is left to fail where a cell imports it."""
    import importlib
    import pkgutil

    for name in [f"labkit.{module.name}" for module in pkgutil.iter_modules([os.path.join(os.getcwd(), "labkit")])]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (an import error is the cell's to show)
            pass


def main():
    faulthandler.enable()  # a crash leaves its traceback in the grading log
    folder = sys.argv[1]
    sys.path.insert(0, folder)
    os.chdir(folder)
    # the protocol keeps the real stdout; anything written to file descriptor 1 goes to stderr
    requests = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    kernel = Kernel(requests, sys.stdin)
    names = Names(kernel)
    _import_ahead()
    for line in sys.stdin:
        message = json.loads(line)
        if "define" in message:
            outputs = run(message["define"], names, kernel, "course")
        else:
            outputs = run(message["run"], names, kernel, "test")
        requests.write(json.dumps({"done": outputs}) + "\n")
        requests.flush()


if __name__ == "__main__":
    main()
