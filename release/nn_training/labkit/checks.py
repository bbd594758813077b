"""Checking helpers shared by the tests of both notebooks.

Each `check_*` raises AssertionError with a message that says what is wrong and, where one is
given, a hint at the usual cause; it returns quietly when the check passes. Messages are wrapped
to short lines: `nbgrader validate` cuts every line of an error at 90 characters.
"""
import textwrap

import numpy as np

WIDTH = 64  # characters per message line, leaving room for "AssertionError: " and an indent


def rel_error(x, y):
    """Largest elementwise relative error max(|x - y| / max(1e-8, |x| + |y|))."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def norm_rel_error(x, y):
    """Relative error of whole arrays, ||x - y|| / (||x|| + ||y||): robust to tiny entries."""
    x, y = np.ravel(np.asarray(x, dtype=float)), np.ravel(np.asarray(y, dtype=float))
    denominator = np.linalg.norm(x) + np.linalg.norm(y)
    return float(np.linalg.norm(x - y) / denominator) if denominator else 0.0


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Centred-difference gradient of sum(f(x) * df) with respect to the array x (changed in place
    and restored), i.e. the backward pass of f for the upstream gradient df."""
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=float, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=float, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of the scalar function f at the array x (changed in place
    and restored)."""
    return eval_numerical_gradient_array(lambda v: f(v), x, 1.0, h)


def numerical_parameter_gradients(cost_of, parameters, h=1e-5):
    """Centred-difference gradient of the scalar `cost_of(parameters)` with respect to every
    array of the `parameters` dict. Returns {"d" + name: gradient}."""
    return {"d" + name: eval_numerical_gradient(lambda _: cost_of(parameters), array, h)
            for name, array in parameters.items()}


def numerical_layer_gradients(forward, x, gamma, beta, dout, h=1e-5):
    """Numerical (dx, dgamma, dbeta) of a layer out = forward(x, gamma, beta) for the upstream
    gradient dout (the inputs are copied, never changed)."""
    return (eval_numerical_gradient_array(lambda v: forward(v, gamma, beta), x.copy(), dout, h),
            eval_numerical_gradient_array(lambda v: forward(x, v, beta), gamma.copy(), dout, h),
            eval_numerical_gradient_array(lambda v: forward(x, gamma, v), beta.copy(), dout, h))


def check_number(value, name):
    """`value` must be a real scalar (a Python or numpy number, or a size-1 array)."""
    if np.size(value) != 1 or not np.isrealobj(value):
        raise _failure(f"{name} should be a single real number, got {type(value).__name__} "
                             f"of shape {np.shape(value)}")
    return float(np.asarray(value).item())


def check_close(actual, expected, name, tol=1e-7, hint="", terms=None):
    """`actual` equals `expected` up to a largest relative error of `tol` (shapes must agree; a
    number may come as any array of one element, as numpy reads it). `terms`: for an `expected`
    that is a sum, the size of the terms summed into each entry (|a| + |b| for a + b): an entry
    that nearly cancels is then held to its terms' round-off, which moves with the order of the
    sum, not to its own tiny size."""
    if actual is None:
        raise _failure(f"{name} is None: did the function return or assign it?")
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if expected.ndim == 0 and actual.size == 1:
        actual = actual.reshape(())
    check_shape(actual, expected.shape, name)
    size = np.abs(actual) + np.abs(expected)
    if terms is not None:
        size = np.maximum(size, np.abs(terms))
    error = float(np.max(np.abs(actual - expected) / np.maximum(1e-8, size), initial=0.0))
    if not error <= tol:
        raise _failure(f"{name} is wrong: relative error {error:.2e} (at most {tol:.0e} "
                             f"expected).\nexpected: {_short(expected)}\ngot:      {_short(actual)}"
                             + _hint(hint))


def check_affine(Z, W, A, b, name, tol=1e-10, hint=""):
    """`Z` equals W·A + b, each entry within `tol` of the size of its terms (|W|·|A| + |b|)."""
    check_close(Z, np.dot(W, A) + b, name, tol, hint, terms=np.dot(np.abs(W), np.abs(A)) + np.abs(b))


def check_gradient(analytic, numerical, name, tol=1e-8, hint=""):
    """An analytic gradient agrees with a numerical one: ||a - n|| / (||a|| + ||n||) <= tol."""
    if analytic is None:
        raise _failure(f"{name} is None: did the function compute it?")
    check_shape(analytic, np.shape(numerical), name)
    error = norm_rel_error(analytic, numerical)
    if not error <= tol:
        raise _failure(f"{name} disagrees with the numerical gradient: relative error "
                             f"{error:.2e} (at most {tol:.0e} expected)." + _hint(hint))
    return error


def check_gradients(analytic, numerical, tol=1e-8, hint="", where=""):
    """Every gradient of the dict `analytic` agrees with `numerical` (same keys), measured over all
    of them at once, ||a - n|| / (||a|| + ||n||) <= tol, as a whole-network gradient check does (a
    gradient that is tiny everywhere would make a per-array error mere round-off). Returns the error."""
    for key in numerical:
        if analytic.get(key) is None:
            raise _failure(f"{key} is None: did the function compute it?")
        check_shape(analytic[key], np.shape(numerical[key]), key)
    keys = sorted(numerical)
    error = norm_rel_error(np.concatenate([np.ravel(analytic[k]) for k in keys]),
                           np.concatenate([np.ravel(numerical[k]) for k in keys]))
    if not error <= tol:
        worst = max(keys, key=lambda k: np.linalg.norm(np.ravel(analytic[k]) - np.ravel(numerical[k])))
        raise _failure(f"the gradients{where} disagree with the numerical gradient: relative "
                             f"error {error:.2e} (at most {tol:.0e} expected), most of it in {worst}."
                             + _hint(hint))
    return error


def check_shape(array, shape, name):
    """`array` is a numpy array (or nested lists of numbers, as numpy reads them) of exactly `shape`."""
    if not hasattr(array, "shape"):
        try:
            read = np.asarray(array)
        except ValueError:  # ragged lists
            read = np.asarray(None)
        if read.dtype.kind not in "biuf":
            raise _failure(f"{name} should be a numpy array of shape {shape}, "
                           f"got {type(array).__name__}")
        array = read
    if tuple(array.shape) != tuple(shape):
        raise _failure(f"{name} has shape {tuple(array.shape)}, expected {tuple(shape)}")


def check_keys(mapping, keys, name):
    """`mapping` is a dict holding at least `keys`."""
    if not isinstance(mapping, dict):
        raise _failure(f"{name} should be a dict, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise _failure(f"{name} lacks the keys {missing}")


def check_arrays(mapping, shapes, name):
    """`mapping` is a dict with an array of the given shape under every key of `shapes`."""
    check_keys(mapping, list(shapes), name)
    for key, shape in shapes.items():
        check_shape(mapping[key], shape, f"{name}[{key!r}]")


def report_match(actual, expected, name, tol=1e-7):
    """Say (without failing) whether a run reproduces the expected output of the lab."""
    same = np.shape(actual) == np.shape(expected) and rel_error(actual, expected) <= tol
    print(f"{name}: {'matches the expected output' if same else 'differs from the expected output'}")
    return same


def _failure(message):
    """An AssertionError whose message is wrapped to lines of at most WIDTH characters."""
    return AssertionError("\n".join(textwrap.fill(line, WIDTH, break_long_words=False) or line
                                     for line in str(message).split("\n")))


def _short(a):
    return np.array2string(np.asarray(a), precision=8, threshold=12, edgeitems=3)


def _hint(hint):
    return f"\nHint: {hint}" if hint else ""
