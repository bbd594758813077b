"""Correct dropout in a style of its own (masks kept as booleans, applied with np.where), for the
student who shares the bug of regularization/bugs/l2_square_of_sum.py with another."""
import numpy as np


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(3)
    hidden_1 = relu(parameters["W1"] @ X + parameters["b1"])
    keep_1 = np.random.rand(*hidden_1.shape) < keep_prob
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = np.where(keep_1, hidden_1 / keep_prob, 0.0)
    Z2 = parameters["W2"] @ A1 + parameters["b2"]
    keep_2 = np.random.rand(*Z2.shape) < keep_prob
    A2 = np.where(keep_2, relu(Z2) / keep_prob, 0.0)
    Z3 = parameters["W3"] @ A2 + parameters["b3"]
    A3 = sigmoid(Z3)
    return A3, (Z1, keep_1, A1, parameters["W1"], parameters["b1"], Z2, keep_2, A2,
                parameters["W2"], parameters["b2"], Z3, A3, parameters["W3"], parameters["b3"])


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    Z1, keep_1, A1, W1, b1, Z2, keep_2, A2, W2, b2, Z3, A3, W3, b3 = cache
    m = X.shape[1]
    grads = {"dZ3": A3 - Y}
    grads["dA2"] = np.where(keep_2, W3.T @ grads["dZ3"] / keep_prob, 0.0)
    grads["dZ2"] = np.where(Z2 > 0, grads["dA2"], 0.0)
    grads["dA1"] = np.where(keep_1, W2.T @ grads["dZ2"] / keep_prob, 0.0)
    grads["dZ1"] = np.where(Z1 > 0, grads["dA1"], 0.0)
    for layer, below in ((3, A2), (2, A1), (1, X)):
        grads[f"dW{layer}"] = grads[f"dZ{layer}"] @ below.T / m
        grads[f"db{layer}"] = grads[f"dZ{layer}"].sum(axis=1, keepdims=True) / m
    return grads
