"""Printed text compared up to round-off: what the course's committed outputs are guaranteed against.

The last digits a notebook prints move with the processor, the BLAS build and its number of
threads (summation order, fused multiply-add, the SIMD width of numpy's math functions): a cost
after 30000 training steps differs from one machine to the next around its 13th digit, and values
that are round-off themselves (the means of normalized data, about 1e-17; gradient-check errors,
about 1e-11) differ altogether. Two texts are the same up to round-off when they differ only in
whitespace and in decimal numbers that agree:

- to RELATIVE; or within one unit of the last digit of the more precise of the two, when that one
  shows at least PRINTED_DIGITS significant digits (numpy prints 8 decimals, so a value near a
  rounding boundary prints either way: "0.99999999" or "1."; a short "0.9" is exact); or
- both below ROUND_OFF_LEVEL in magnitude: round-off, of which only the order says anything.

Whole numbers (iteration counts, indices) must be equal. Anything larger than these tolerances is
a real change of the course, which regenerating writes.
"""
import re

RELATIVE = 1e-9
ROUND_OFF_LEVEL = 1e-8
PRINTED_DIGITS = 6
# A decimal number as printed: sign, digits with a point and/or an exponent; whole numbers too.
NUMBER = re.compile(r"([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")
DECIMAL = re.compile(r"[.eE]")


def same_text(a, b):
    """Whether the texts `a` and `b` are the same up to round-off (see the module docstring)."""
    return _text_difference(a, b) is None


def difference(a, b, where="notebook"):
    """Where the plain structures `a` and `b` (dicts, lists, strings and scalars, as nbformat reads
    a notebook) differ by more than round-off, in words; None when they do not."""
    if isinstance(a, str) and isinstance(b, str):
        found = _text_difference(a, b)
        return found and f"{where}: {found}"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where}: keys {sorted(a.keys() ^ b.keys())} in one only"
        return next(filter(None, (difference(a[k], b[k], f"{where}.{k}") for k in a)), None)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items against {len(b)}"
        return next(filter(None, (difference(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b)))), None)
    return None if a == b else f"{where}: {a!r} against {b!r}"


def _text_difference(a, b):
    if a == b:
        return None
    parts_a, parts_b = NUMBER.split(a), NUMBER.split(b)
    if len(parts_a) != len(parts_b):
        return f"{_excerpt(a)!r} against {_excerpt(b)!r}"
    for index, (x, y) in enumerate(zip(parts_a, parts_b)):
        same = _numbers_agree(x, y) if index % 2 else "".join(x.split()) == "".join(y.split())
        if not same:
            return f"{_excerpt(x)!r} against {_excerpt(y)!r}"
    return None


def _numbers_agree(x, y):
    if not (DECIMAL.search(x) and DECIMAL.search(y)):
        return x == y  # whole numbers count things
    a, b = float(x), float(y)
    if abs(a) < ROUND_OFF_LEVEL and abs(b) < ROUND_OFF_LEVEL:
        return True
    precise = min((x, y), key=_last_digit)
    rounding = _last_digit(precise) if _significant_digits(precise) >= PRINTED_DIGITS else 0.0
    # 1.5 units: the two printed values may each be rounded to either side of the true one
    return abs(a - b) <= max(RELATIVE * max(abs(a), abs(b)), 1.5 * rounding)


def _last_digit(number):
    """The value of one unit in the last digit printed: 1e-8 for "0.99999999", 1e-25 for
    "3.55271368e-17"."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _significant_digits(number):
    mantissa = number.lower().partition("e")[0]
    return len(mantissa.lstrip("+-").replace(".", "").lstrip("0"))


def _excerpt(text, width=80):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width] + "…"
