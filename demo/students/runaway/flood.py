"""The L2 cost prints 50 MB of debugging output the first time it is called, in long lines (a
line cap alone lets it through)."""
import numpy as np

FIRST_CALL = []


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    if not FIRST_CALL:
        FIRST_CALL.append(True)
        for _ in range(50):
            print("x" * 1_000_000)
    m = Y.shape[1]
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    cross_entropy = -np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m
    return cross_entropy + lambd / (2 * m) * sum(np.sum(np.square(W)) for W in (W1, W2, W3))
