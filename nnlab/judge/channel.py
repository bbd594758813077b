"""The narrow channel between the judge and the student's kernel: plain data, and the kernel's end.

Plain data is None, booleans, integers, floats, strings, numpy arrays of a numeric or boolean
dtype, and lists, tuples and dicts (string or integer keys) of these. `encode` turns such a value
into JSON; `decode` builds it back, creating nothing but these types and calling no method of the
sender's objects: what a student's function returns reaches the judge as data, never as an object
that could look around the judge when a check converts it.

The same source is the kernel's end of the channel: the grader runs this file in the student's
kernel, where `serve` answers the judge's requests (look a name up, call a function, the random
stream), over a unix socket for the length of a test cell (`serve_socket`). That is why it
imports only the standard library and numpy. The kernel is the student's:
`serve` may be replaced there, which only changes what the student's side answers, and nothing
of the judge's (tests, references, expected values) ever travels this way.
"""
import base64
import contextlib
import io
import json
import os
import socket
import traceback
import warnings

import numpy as np

KINDS = "biuf"  # numpy dtype kinds that cross: bool, signed and unsigned integers, floats
MAX_DEPTH = 64
PLAIN = ("plain data (numbers, strings, booleans, None, numeric numpy arrays, and lists, tuples "
         "and dicts of these)")
CHANNEL_FILE = "<nnlab channel>"  # the file name of this source in the kernel (for tracebacks)
PRINT_LIMIT = 1_000_000  # characters kept of what student code prints in one call (by default)
TRUNCATED = "[output truncated: more than"


class NotPlainData(TypeError):
    """A value that cannot cross the channel."""


def describe(value):
    """What a value is, for a message: its type, and dtype for arrays."""
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype}"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("a builtins.", "a ")


def encode(value, functions=None, depth=0):
    """`value` as JSON-able data. `functions(value)`: the name to send for a callable (the
    judge's handles of student functions), or None; without it callables are refused."""
    if depth > MAX_DEPTH:
        raise NotPlainData("nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind in (int, float):  # JSON as Python writes it keeps every digit, nan and inf
        return value
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return encode(value.item(), functions, depth)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in KINDS:
            raise NotPlainData(describe(value))
        data = np.ascontiguousarray(value)
        return {"array": data.dtype.str, "shape": list(data.shape),
                "data": base64.b64encode(data.tobytes()).decode()}
    if kind in (list, tuple):
        return {kind.__name__: [encode(item, functions, depth + 1) for item in value]}
    if kind is dict:
        if not all(type(key) in (str, int) for key in value):
            raise NotPlainData("a dict with keys other than strings and integers")
        return {"dict": [[key, encode(item, functions, depth + 1)] for key, item in value.items()]}
    name = functions(value) if functions else None
    if name is not None:
        return {"function": name}
    raise NotPlainData(describe(value))


def decode(data, functions=None, arrays=False, depth=0):
    """The value `encode` made. `functions(name)`: the callable a function reference stands for
    (refused without it). `arrays`: turn lists of numbers or booleans (nested, rectangular) into
    numpy arrays, as numpy would read them."""
    if depth > MAX_DEPTH:
        raise NotPlainData("nested too deeply")
    if data is None or type(data) in (bool, str, int, float):
        return data
    if type(data) is not dict or len(data) not in (1, 3):
        raise NotPlainData(f"malformed data: {type(data).__name__}")
    if "array" in data:
        return _array(data)
    if "function" in data and functions is not None:
        return functions(data["function"])
    if "dict" in data:
        return {_key(key): decode(item, functions, arrays, depth + 1) for key, item in data["dict"]}
    for kind in (list, tuple):
        if kind.__name__ in data:
            items = [decode(item, functions, arrays, depth + 1) for item in data[kind.__name__]]
            return _as_array(items) if arrays and kind is list else kind(items)
    raise NotPlainData(f"malformed data: {sorted(data)}")


def _key(key):
    if type(key) not in (str, int):
        raise NotPlainData("malformed dict key")
    return key


def _array(data):
    dtype = np.dtype(str(data["array"]))
    shape = tuple(int(n) for n in data["shape"])
    raw = base64.b64decode(str(data["data"]), validate=True)
    if dtype.kind not in KINDS or dtype.itemsize * int(np.prod(shape)) != len(raw):
        raise NotPlainData("malformed array")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _as_array(items):
    """`items` as numpy reads a list, when it holds only numbers and booleans in a rectangle."""
    if not items or not all(_numeric(item) for item in items):
        return items
    try:
        array = np.array(items)
    except ValueError:  # ragged
        return items
    return array if array.dtype.kind in KINDS else items


def _numeric(item):
    if isinstance(item, np.ndarray):
        return item.dtype.kind in KINDS
    return type(item) in (bool, int, float)


def dumps(value, functions=None):
    return json.dumps(encode(value, functions))


def loads(text, functions=None, arrays=False):
    return decode(json.loads(text), functions, arrays)


# ---------------------------------------------------------------- the kernel's end

def serve(namespace, request):
    """Answer one request of the judge (JSON text) in the student's kernel, whose user namespace
    is `namespace`; the reply is JSON text."""
    request = json.loads(request)
    try:
        reply = _ANSWERS[request["op"]](namespace, request)
    except NotPlainData as error:
        reply = {"error": {"type": "TypeError", "message": str(error), "traceback": []}}
    return json.dumps(reply)


def serve_socket(namespace, path, accept_seconds=30):
    """Answer the judge's requests of one test cell over a unix socket made at `path`: a JSON line
    in, a JSON line out, until the grader closes its end. Run as one execute request per test
    cell, in the kernel's main thread as the student's cells are (so an interrupt stops it): a
    request then costs a round trip on the socket, not a whole execute cycle of the kernel."""
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(accept_seconds)  # a grader that never connects
        connection, _ = listener.accept()
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)
    connection.settimeout(None)
    with connection, connection.makefile("rb") as requests:
        for line in requests:
            connection.sendall(serve(namespace, line.decode()).encode() + b"\n")


def _lookup(namespace, request):
    """What the notebook bound to a name: a function, a value, or something that cannot cross."""
    if request["name"] not in namespace:
        return {"kind": "missing"}
    value = namespace[request["name"]]
    if callable(value) and not isinstance(value, (type, np.ndarray)):
        return {"kind": "function"}
    try:
        return {"kind": "value", "value": encode(value)}
    except NotPlainData as error:
        return {"kind": "other", "what": str(error)}


def _call(namespace, request):
    """Call a student function with the judge's arguments: its result, what it printed and
    warned, the arguments it changed in place, and the random stream if it moved."""
    name = request["name"]
    resolve = namespace.__getitem__
    args, kwargs = decode(request["args"], resolve), decode(request["kwargs"], resolve)
    if request.get("random") is not None:
        np.random.set_state(decode(request["random"]))
    before = np.random.get_state()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = namespace[name](*args, **kwargs)
        except Exception as error:
            return {"error": _error(error), "printed": _kept(printed, request),
                    "warnings": _warned(caught)}
    reply = {"printed": _kept(printed, request), "warnings": _warned(caught)}
    try:
        reply["value"] = encode(result)
    except NotPlainData as error:
        reply["error"] = {"type": "TypeError", "traceback": [], "message": (
            f"{name} returned {error}; expected {PLAIN}")}
    reply["changed"] = _changed(request, args, kwargs)
    after = np.random.get_state()
    if not all(np.array_equal(a, b) for a, b in zip(before, after)):
        reply["random"] = encode(after)
    return reply


def _changed(request, args, kwargs):
    """The arguments the call changed in place: {"args": {index: data}, "kwargs": {name: data}}."""
    changed = {"args": {}, "kwargs": {}}
    for where, values in (("args", dict(enumerate(args))), ("kwargs", kwargs)):
        sent = request[where]["tuple" if where == "args" else "dict"]
        sent = dict(enumerate(sent)) if where == "args" else dict(sent)
        for key, value in values.items():
            try:
                now = encode(value)
            except NotPlainData:
                continue
            if now != sent[key]:
                changed[where][key] = now
    return changed


def _random(namespace, request):
    """The kernel's global numpy random stream; set first if the judge sends one."""
    if request.get("state") is not None:
        np.random.set_state(decode(request["state"]))
    return {"state": encode(np.random.get_state())}


def _define(namespace, request):
    """Run a function definition of the student's notebook that a test needs before the notebook
    reached it (a function calling one defined in a later cell)."""
    if request["name"] not in namespace:
        try:
            exec(compile(request["source"], "<definition>", "exec"), namespace)
        except Exception as error:
            return {"error": _error(error)}
    return {}


def _error(error):
    """A student-side exception: its type, message and the student's own traceback lines."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename != CHANNEL_FILE]
    return {"type": type(error).__name__, "message": str(error),
            "traceback": traceback.format_list(frames)}


def _kept(printed, request):
    """What the call printed, up to the grader's `print_limit`."""
    text, limit = printed.getvalue(), int(request.get("print_limit") or PRINT_LIMIT)
    return text if len(text) <= limit else f"{text[:limit]}\n{TRUNCATED} {limit:,} characters]\n"


def _warned(caught):
    return [f"{type(w.message).__name__}: {w.message} ({w.filename}, line {w.lineno})"
            for w in caught[:100]]


_ANSWERS = {"lookup": _lookup, "call": _call, "random": _random, "define": _define}


def source():
    """This file's text, to run in a kernel."""
    with open(__file__, encoding="utf-8") as handle:
        return handle.read()
