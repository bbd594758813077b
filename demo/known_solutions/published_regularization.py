# A "known public solution" written for the demo class (not taken from anywhere): the style of
# the solutions to this lab that circulate in public repositories, with their step comments.
# `nnlab similarity --against demo/known_solutions` reports the student who pasted it.
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    W1 = parameters["W1"]
    W2 = parameters["W2"]
    W3 = parameters["W3"]

    cross_entropy_cost = compute_cost(A3, Y)  # This gives you the cross-entropy part of the cost

    #### BEGIN MY ANSWER #### (about 1 line)
    L2_regularization_cost = (1. / m) * (lambd / 2) * (np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3)))
    #### END MY ANSWER ####

    cost = cross_entropy_cost + L2_regularization_cost
    return cost


def backward_propagation_with_regularization(X, Y, cache, lambd):
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    #### BEGIN MY ANSWER #### (about 1 line): add the regularization term's gradient
    dW3 = 1. / m * np.dot(dZ3, A2.T) + (lambd / m) * W3
    #### END MY ANSWER ####
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)

    dA2 = np.dot(W3.T, dZ3)
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    #### BEGIN MY ANSWER #### (about 1 line): same trick for the second layer
    dW2 = 1. / m * np.dot(dZ2, A1.T) + (lambd / m) * W2
    #### END MY ANSWER ####
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    #### BEGIN MY ANSWER #### (about 1 line): and once more for the first layer
    dW1 = 1. / m * np.dot(dZ1, X.T) + (lambd / m) * W1
    #### END MY ANSWER ####
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2,
                 "dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1,
                 "dZ1": dZ1, "dW1": dW1, "db1": db1}
    return gradients


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)

    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    W3 = parameters["W3"]
    b3 = parameters["b3"]

    # LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    #### BEGIN MY ANSWER #### (about 4 lines)
    D1 = np.random.rand(A1.shape[0], A1.shape[1])  # Step 1a: a uniform draw per unit of A1
    D1 = (D1 < keep_prob).astype(int)              # Step 1b: turn the draw into a 0/1 mask
    A1 = A1 * D1                                   # Step 1c: silence the dropped neurons
    A1 = A1 / keep_prob                            # Step 1d: rescale the ones that survived
    #### END MY ANSWER ####
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    #### BEGIN MY ANSWER #### (about 4 lines)
    D2 = np.random.rand(A2.shape[0], A2.shape[1])  # Step 2a: a uniform draw per unit of A2
    D2 = (D2 < keep_prob).astype(int)              # Step 2b: turn the draw into a 0/1 mask
    A2 = A2 * D2                                   # Step 2c: silence the dropped neurons
    A2 = A2 / keep_prob                            # Step 2d: rescale the ones that survived
    #### END MY ANSWER ####
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)

    cache = (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)
    return A3, cache


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache

    dZ3 = A3 - Y
    dW3 = 1. / m * np.dot(dZ3, A2.T)
    db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3)
    #### BEGIN MY ANSWER #### (about 2 lines)
    dA2 = dA2 * D2         # Step 1: the mask D2 switches off the same neurons as in the forward pass
    dA2 = dA2 / keep_prob  # Step 2: and the surviving ones are rescaled the same way
    #### END MY ANSWER ####
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1. / m * np.dot(dZ2, A1.T)
    db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.dot(W2.T, dZ2)
    #### BEGIN MY ANSWER #### (about 2 lines)
    dA1 = dA1 * D1         # Step 1: the mask D1 switches off the same neurons as in the forward pass
    dA1 = dA1 / keep_prob  # Step 2: and the surviving ones are rescaled the same way
    #### END MY ANSWER ####
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1. / m * np.dot(dZ1, X.T)
    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)

    gradients = {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2,
                 "dZ2": dZ2, "dW2": dW2, "db2": db2, "dA1": dA1,
                 "dZ1": dZ1, "dW1": dW1, "db1": db1}
    return gradients
