"""Correct: other placements of 1/m and 1/2, masks as 1 * (...), seeded with another seed."""
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    total = 0.0
    for name in ("W1", "W2", "W3"):
        total += np.sum(np.multiply(parameters[name], parameters[name]))
    return compute_cost(A3, Y) + (1 / m) * (lambd / 2) * total


def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = (A3 - Y) / m
    dW3 = np.dot(dZ3, A2.T) + lambd * W3 / m
    db3 = np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = dA2 * (Z2 > 0)
    dW2 = np.dot(dZ2, A1.T) + lambd * W2 / m
    db2 = np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = dA1 * (Z1 > 0)
    dW1 = np.dot(dZ1, X.T) + lambd * W1 / m
    db1 = np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(42)
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    D1 = 1 * (np.random.rand(Z1.shape[0], Z1.shape[1]) < keep_prob)
    A1 = relu(Z1) * D1 / keep_prob
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    D2 = 1 * (np.random.rand(Z2.shape[0], Z2.shape[1]) < keep_prob)
    A2 = relu(Z2) * D2 / keep_prob
    Z3 = np.dot(parameters["W3"], A2) + parameters["b3"]
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, parameters["W1"], parameters["b1"], Z2, D2, A2, parameters["W2"],
                parameters["b2"], Z3, A3, parameters["W3"], parameters["b3"])


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = (A3 - Y) / m
    dW3 = np.dot(dZ3, A2.T)
    db3 = np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3) * D2 / keep_prob
    dZ2 = dA2 * (A2 > 0)
    dW2 = np.dot(dZ2, A1.T)
    db2 = np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2) * D1 / keep_prob
    dZ1 = dA1 * (A1 > 0)
    dW1 = np.dot(dZ1, X.T)
    db1 = np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
