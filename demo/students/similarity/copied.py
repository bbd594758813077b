"""Copied from original.py: variables renamed, independent lines reordered, comments reworded."""
import numpy as np


def weight_tax(params, n_layers=3):
    # sum of squares of every weight matrix
    return sum(float(np.sum(params["W" + str(lvl)] ** 2)) for lvl in range(1, n_layers + 1))


def coin_flips(ref, p):
    # keep a unit when the draw is below p
    return (np.random.rand(*ref.shape) < p).astype(np.float64)


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    penalty = weight_tax(parameters) * lambd / m / 2.0
    ce = compute_cost(A3, Y)
    return ce + penalty


def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    Ws = {3: W3, 2: W2, 1: W1}
    acts = {2: A2, 1: A1}
    prev = {3: A2, 2: A1, 1: X}
    g = {"dZ3": A3 - Y}
    for lvl in (3, 2, 1):
        d = g["dZ" + str(lvl)]
        # L2 term of the gradient
        g["dW" + str(lvl)] = (d.dot(prev[lvl].T) + lambd * Ws[lvl]) / m
        g["db" + str(lvl)] = d.sum(axis=1, keepdims=True) / m
        if lvl > 1:
            g["dA" + str(lvl - 1)] = Ws[lvl].T.dot(d)
            g["dZ" + str(lvl - 1)] = g["dA" + str(lvl - 1)] * (acts[lvl - 1] > 0)
    return g


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    W3, b3 = parameters["W3"], parameters["b3"]
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    Z1 = W1.dot(X) + b1
    D1 = coin_flips(Z1, keep_prob)
    A1 = relu(Z1) * D1 / keep_prob  # inverted dropout scaling
    Z2 = W2.dot(A1) + b2
    D2 = coin_flips(Z2, keep_prob)
    A2 = relu(Z2) * D2 / keep_prob
    Z3 = W3.dot(A2) + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    db3 = dZ3.sum(axis=1, keepdims=True) / m
    dW3 = dZ3.dot(A2.T) / m
    # apply the masks again and rescale
    dA2 = W3.T.dot(dZ3) * D2 / keep_prob
    dZ2 = dA2 * (A2 > 0)
    db2 = dZ2.sum(axis=1, keepdims=True) / m
    dW2 = dZ2.dot(A1.T) / m
    dA1 = W2.T.dot(dZ2) * D1 / keep_prob
    dZ1 = dA1 * (A1 > 0)
    db1 = dZ1.sum(axis=1, keepdims=True) / m
    dW1 = dZ1.dot(X.T) / m
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
