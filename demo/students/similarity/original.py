"""Correct, in a style of its own: a tax on the weights, masks made by one helper, and a loop
that walks the layers from the top. Copied by copied.py."""
import numpy as np


def weight_tax(parameters, how_many_layers=3):
    # every weight matrix pays rent: the sum of its squared entries
    return sum(float(np.sum(parameters["W" + str(floor)] ** 2)) for floor in range(1, how_many_layers + 1))


def coin_flips(like, survival):
    # heads (below survival) keeps the unit alive for this example
    return (np.random.rand(*like.shape) < survival).astype(np.float64)


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    n_examples = Y.shape[1]
    plain_part = compute_cost(A3, Y)
    taxed_part = weight_tax(parameters) * lambd / n_examples / 2.0
    return plain_part + taxed_part


def backward_propagation_with_regularization(X, Y, cache, lambd):
    n_examples = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    below = {3: A2, 2: A1, 1: X}
    alive = {2: A2, 1: A1}
    weights = {3: W3, 2: W2, 1: W1}
    grads = {"dZ3": A3 - Y}
    for floor in (3, 2, 1):
        upstream = grads["dZ" + str(floor)]
        # the tax adds lambd / m times the weight itself to its gradient
        grads["dW" + str(floor)] = (upstream.dot(below[floor].T) + lambd * weights[floor]) / n_examples
        grads["db" + str(floor)] = upstream.sum(axis=1, keepdims=True) / n_examples
        if floor > 1:
            grads["dA" + str(floor - 1)] = weights[floor].T.dot(upstream)
            grads["dZ" + str(floor - 1)] = grads["dA" + str(floor - 1)] * (alive[floor - 1] > 0)
    return grads


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    W1, b1 = parameters["W1"], parameters["b1"]
    W2, b2 = parameters["W2"], parameters["b2"]
    W3, b3 = parameters["W3"], parameters["b3"]
    Z1 = W1.dot(X) + b1
    D1 = coin_flips(Z1, keep_prob)
    A1 = relu(Z1) * D1 / keep_prob  # survivors speak louder so the expected sum stays put
    Z2 = W2.dot(A1) + b2
    D2 = coin_flips(Z2, keep_prob)
    A2 = relu(Z2) * D2 / keep_prob
    Z3 = W3.dot(A2) + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    n_examples = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = dZ3.dot(A2.T) / n_examples
    db3 = dZ3.sum(axis=1, keepdims=True) / n_examples
    # the dead stay dead on the way back, and the survivors keep their megaphone
    dA2 = W3.T.dot(dZ3) * D2 / keep_prob
    dZ2 = dA2 * (A2 > 0)
    dW2 = dZ2.dot(A1.T) / n_examples
    db2 = dZ2.sum(axis=1, keepdims=True) / n_examples
    dA1 = W2.T.dot(dZ2) * D1 / keep_prob
    dZ1 = dA1 * (A1 > 0)
    dW1 = dZ1.dot(X.T) / n_examples
    db1 = dZ1.sum(axis=1, keepdims=True) / n_examples
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}
