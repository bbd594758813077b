"""Correct: shared helper functions, boolean masks applied with np.where, a loop over layers."""
import numpy as np

LAYERS = (1, 2, 3)


def squared_weights(parameters):
    return sum(np.sum(np.square(parameters[f"W{l}"])) for l in LAYERS)


def dropout_mask(shape, keep_prob):
    return np.random.rand(shape[0], shape[1]) < keep_prob


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    return compute_cost(A3, Y) + lambd * squared_weights(parameters) / (2 * m)


def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    activations = {0: X, 1: A1, 2: A2}
    weights = {1: W1, 2: W2, 3: W3}
    grads = {"dZ3": A3 - Y}
    for l in (3, 2, 1):
        dZ = grads[f"dZ{l}"]
        grads[f"dW{l}"] = (dZ @ activations[l - 1].T + lambd * weights[l]) / m
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dA = weights[l].T @ dZ
            grads[f"dA{l - 1}"] = dA
            grads[f"dZ{l - 1}"] = np.where(activations[l - 1] > 0, dA, 0.0)
    return grads


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = W1 @ X + b1
    D1 = dropout_mask(Z1.shape, keep_prob)
    A1 = np.where(D1, relu(Z1) / keep_prob, 0.0)
    Z2 = W2 @ A1 + b2
    D2 = dropout_mask(Z2.shape, keep_prob)
    A2 = np.where(D2, relu(Z2) / keep_prob, 0.0)
    Z3 = W3 @ A2 + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    m = X.shape[1]
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
    dZ3 = A3 - Y
    dA2 = np.where(D2, W3.T @ dZ3, 0.0) / keep_prob
    dZ2 = np.where(A2 > 0, dA2, 0.0)
    dA1 = np.where(D1, W2.T @ dZ2, 0.0) / keep_prob
    dZ1 = np.where(A1 > 0, dA1, 0.0)
    return {"dZ3": dZ3, "dW3": dZ3 @ A2.T / m, "db3": np.mean(dZ3, axis=1, keepdims=True),
            "dA2": dA2, "dZ2": dZ2, "dW2": dZ2 @ A1.T / m, "db2": np.mean(dZ2, axis=1, keepdims=True),
            "dA1": dA1, "dZ1": dZ1, "dW1": dZ1 @ X.T / m, "db1": np.mean(dZ1, axis=1, keepdims=True)}
