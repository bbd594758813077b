"""Bug: a typo that runs only because the notebook has a global of that name (train_Y)."""
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = train_Y.shape[1]
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    L2 = lambd / (2 * m) * (np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3)))
    return compute_cost(A3, Y) + L2
