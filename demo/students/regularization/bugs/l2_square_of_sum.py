"""Bug (unusual): the L2 term squares each matrix's sum instead of summing its squares, through a
helper of its own. Two students of the demo class hand it in, otherwise written differently."""
import numpy as np


def layer_penalty(parameters, layer_names=("W1", "W2", "W3")):
    # one term per layer: the biases are not penalised
    penalty = 0.0
    for layer_name in layer_names:
        penalty = penalty + np.sum(parameters[layer_name]) ** 2
    return penalty


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    return compute_cost(A3, Y) + lambd * layer_penalty(parameters) / (2 * m)
