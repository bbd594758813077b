"""Printed outputs compared up to round-off: the differences other processors and BLAS builds make
are ignored, every real change is seen (the pairs are what this course prints)."""
import pytest

from nnlab.authoring.roundoff import difference, same_text

ROUND_OFF = [
    # a cost after 20000 steps, built with and without AVX2 and FMA (13th digit)
    ("Cost after iteration 20000: 0.08641797746713434", "Cost after iteration 20000: 0.08641797746709773"),
    # numpy's 8 decimals on either side of a rounding boundary, padded differently
    ("stds:  [0.99999999 1.         1.        ]", "stds:  [1. 1. 1.]"),
    ("means: [-0.03927354 -0.04349152]", "means: [-0.03927355 -0.04349152]"),
    # values that are round-off themselves: only their order says anything
    ("means: [ 3.55271368e-17  1.71529457e-16 -2.76167977e-17]",
     "means: [ 1.33226763e-17 -3.94129174e-17  3.29597460e-17]"),
    ("relative error of the gradients 2.9e-11 (below 1e-8 expected)",
     "relative error of the gradients 1.8e-11 (below 1e-8 expected)"),
]

REAL_CHANGES = [
    ("Accuracy: 0.9", "Accuracy: 1.0"),  # short numbers are exact
    ("Accuracy: 0.875", "Accuracy: 0.88"),
    ("Cost after iteration 10000: 0.1", "Cost after iteration 10001: 0.1"),  # counts are exact
    ("Cost after iteration 0: 0.6783589854870259", "Cost after iteration 0: 0.6783589864870259"),  # 9th digit
    ("means: [-0.03927354]", "means: [-0.03927357]"),  # three units of the 8th decimal
    ("dx error: 2e-08", "dx error: 2e-09"),  # above the round-off level
    ("On the test set:", "On the training set:"),
    ("means: [1. 2.]", "means: [1. 2. 3.]"),
]


@pytest.mark.parametrize("a, b", ROUND_OFF)
def test_round_off_is_not_a_difference(a, b):
    assert same_text(a, b) and same_text(b, a)


@pytest.mark.parametrize("a, b", REAL_CHANGES)
def test_a_real_change_is_a_difference(a, b):
    assert not same_text(a, b) and not same_text(b, a)


def test_difference_says_where():
    mine = {"cells": [{"source": "x", "outputs": [{"text": "Accuracy: 0.9"}]}]}
    theirs = {"cells": [{"source": "x", "outputs": [{"text": "Accuracy: 1.0"}]}]}
    assert difference(mine, theirs) == "notebook.cells[0].outputs[0].text: '0.9' against '1.0'"
    assert difference(mine, mine) is None
    assert "1 items against 0" in difference({"cells": [1]}, {"cells": []})


# ---- the hidden tests' comparisons: round-off of a sum is judged against its terms

def test_a_sum_that_nearly_cancels_is_held_to_its_terms_round_off():
    """labkit.checks: W·A + b summed in another order (as another memory layout or BLAS kernel
    sums it) passes `check_affine` however near an entry cancels, where an entry's own relative
    error fails it; a wrong sum still fails."""
    import numpy as np
    from labkit.checks import check_affine, check_close, rel_error

    rng = np.random.default_rng(0)
    W, A = rng.standard_normal((3, 20)), rng.standard_normal((20, 50))
    b = rng.standard_normal((3, 1))
    b[0, 0] = 1e-13 - np.dot(W[0], A[:, 0])  # entry (0, 0) cancels to about 1e-13
    other_order = sum(np.outer(W[:, k], A[k]) for k in reversed(range(20))) + b
    assert rel_error(other_order, W @ A + b) > 1e-10
    with pytest.raises(AssertionError):
        check_close(other_order, W @ A + b, "Z", tol=1e-10)
    check_affine(other_order, W, A, b, "Z")
    for wrong in (W @ A, other_order * (1 + 1e-9)):  # no bias; every entry off by 1e-9
        with pytest.raises(AssertionError, match="Z is wrong"):
            check_affine(wrong, W, A, b, "Z")
