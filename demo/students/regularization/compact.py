"""Correct: compact; integer masks built with *A.shape, in-place updates, no seeding at all."""
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    squares = sum(np.sum(parameters["W" + str(l)] ** 2) for l in range(1, 4))
    return compute_cost(A3, Y) + 0.5 * lambd * squares / Y.shape[1]


def backward_propagation_with_regularization(X, Y, cache, lambd):
    grads = backward_propagation(X, Y, cache)  # the provided unregularized gradients
    m = X.shape[1]
    for l, W in zip((1, 2, 3), (cache[2], cache[6], cache[10])):
        grads["dW" + str(l)] = grads["dW" + str(l)] + lambd / m * W
    return grads


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    W1, b1, W2, b2, W3, b3 = [parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3")]
    Z1 = W1 @ X + b1
    A1 = relu(Z1)
    D1 = (np.random.rand(*A1.shape) < keep_prob).astype(int)
    A1 *= D1
    A1 /= keep_prob
    Z2 = W2 @ A1 + b2
    A2 = relu(Z2)
    D2 = (np.random.rand(*A2.shape) < keep_prob).astype(int)
    A2 *= D2
    A2 /= keep_prob
    Z3 = W3 @ A2 + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = cache
    m = X.shape[1]
    dZ3 = A3 - Y
    dA2 = W3.T @ dZ3
    dA2 *= D2
    dA2 /= keep_prob
    dZ2 = dA2 * (A2 > 0)
    dA1 = W2.T @ dZ2
    dA1 *= D1
    dA1 /= keep_prob
    dZ1 = dA1 * (A1 > 0)
    return {"dZ3": dZ3, "dW3": dZ3 @ A2.T / m, "db3": dZ3.sum(axis=1, keepdims=True) / m,
            "dA2": dA2, "dZ2": dZ2, "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m,
            "dA1": dA1, "dZ1": dZ1, "dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1, keepdims=True) / m}
