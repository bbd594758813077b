"""Correct, in numpy's loose sense: the cost comes back as a (1, 1) array, and the dropout masks
are kept as nested lists of booleans."""
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    squares = np.sum(np.square(parameters["W1"])) + np.sum(np.square(parameters["W2"])) \
        + np.sum(np.square(parameters["W3"]))
    return np.array([[compute_cost(A3, Y) + lambd / (2 * m) * squares]])


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    D1 = (np.random.rand(*A1.shape) < keep_prob).tolist()
    A1 = A1 * np.array(D1) / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    D2 = (np.random.rand(*A2.shape) < keep_prob).tolist()
    A2 = A2 * np.array(D2) / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
