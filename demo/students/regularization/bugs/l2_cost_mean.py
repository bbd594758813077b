"""Bug: the L2 term uses np.mean, which divides by the number of weights instead of m."""
import numpy as np


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    L2 = lambd / 2 * (np.mean(np.square(W1)) + np.mean(np.square(W2)) + np.mean(np.square(W3)))
    return compute_cost(A3, Y) + L2
