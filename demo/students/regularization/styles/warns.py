"""Correct, but chatty: the cost warns about a deprecated argument and prints a note to stderr,
the dropout forward takes a logarithm of zero (a numpy RuntimeWarning) for a debugging value."""
import sys
import warnings

import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    warnings.warn("lambd will be renamed to l2_strength", DeprecationWarning)
    print("computing the L2 cost", file=sys.stderr)
    m = Y.shape[1]
    squares = sum(np.sum(np.square(parameters[key])) for key in ("W1", "W2", "W3"))
    return compute_cost(A3, Y) + lambd / (2 * m) * squares


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    debug_floor = np.log(np.zeros(1))  # -inf, with a RuntimeWarning
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    D1 = np.random.rand(A1.shape[0], A1.shape[1]) < keep_prob
    A1 = A1 * D1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    D2 = np.random.rand(A2.shape[0], A2.shape[1]) < keep_prob
    A2 = A2 * D2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3) + 0 * debug_floor.clip(0)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
