"""Correct: float masks via astype(float), 1/keep_prob folded into the mask, np.multiply."""
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    L2 = np.sum(parameters["W1"] ** 2) + np.sum(parameters["W2"] ** 2) + np.sum(parameters["W3"] ** 2)
    return compute_cost(A3, Y) + L2 * lambd / m / 2


def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = (1 / m) * (np.dot(dZ3, A2.T) + lambd * W3)
    db3 = (1 / m) * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, (A2 > 0).astype(float))
    dW2 = (1 / m) * (np.dot(dZ2, A1.T) + lambd * W2)
    db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, (A1 > 0).astype(float))
    dW1 = (1 / m) * (np.dot(dZ1, X.T) + lambd * W1)
    db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
    return dict(dZ3=dZ3, dW3=dW3, db3=db3, dA2=dA2, dZ2=dZ2, dW2=dW2, db2=db2,
                dA1=dA1, dZ1=dZ1, dW1=dW1, db1=db1)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    D1 = (np.random.rand(*Z1.shape) < keep_prob).astype(float)
    A1 = np.multiply(relu(Z1), D1 / keep_prob)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    D2 = (np.random.rand(*Z2.shape) < keep_prob).astype(float)
    A2 = np.multiply(relu(Z2), D2 / keep_prob)
    Z3 = np.dot(parameters["W3"], A2) + parameters["b3"]
    A3 = sigmoid(Z3)
    cache = (Z1, D1, A1, parameters["W1"], parameters["b1"], Z2, D2, A2, parameters["W2"],
             parameters["b2"], Z3, A3, parameters["W3"], parameters["b3"])
    return A3, cache


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = np.dot(dZ3, A2.T) / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m
    dA2 = np.multiply(np.dot(W3.T, dZ3), D2 / keep_prob)
    dZ2 = np.multiply(dA2, (A2 > 0).astype(float))
    dW2 = np.dot(dZ2, A1.T) / m
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dA1 = np.multiply(np.dot(W2.T, dZ2), D1 / keep_prob)
    dZ1 = np.multiply(dA1, (A1 > 0).astype(float))
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    return dict(dZ3=dZ3, dW3=dW3, db3=db3, dA2=dA2, dZ2=dZ2, dW2=dW2, db2=db2,
                dA1=dA1, dZ1=dZ1, dW1=dW1, db1=db1)
