"""Test inputs for part 1: the classic small cases of the original exercise, and fresh random
networks for checks that must not depend on one fixed input."""
import numpy as np

from .network import forward_propagation

CLASSIC_Y = np.array([[1.0, 1.0, 0.0, 1.0, 0.0]])


def _classic_parameters():
    """W1 (2,3), b1 (2,1), W2 (3,2), b2 (3,1), W3 (1,3), b3 (1,1) drawn with randn in that order."""
    shapes = {"W1": (2, 3), "b1": (2, 1), "W2": (3, 2), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
    return {name: np.random.randn(*shape) for name, shape in shapes.items()}


def l2_cost_case():
    """(A3, Y, parameters) of the classic L2-cost check (lambd 0.1 gives 1.7864859451590758)."""
    np.random.seed(1)
    parameters = _classic_parameters()
    A3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    return A3, CLASSIC_Y.copy(), parameters


def network_case():
    """(X (3, 5), Y (1, 5), parameters) of the classic backward and dropout checks."""
    np.random.seed(1)
    X = np.random.randn(3, 5)
    return X, CLASSIC_Y.copy(), _classic_parameters()


def l2_backward_case():
    """(X, Y, cache) of the classic L2-backward check: the cache of forward_propagation."""
    X, Y, parameters = network_case()
    _, cache = forward_propagation(X, parameters)
    return X, Y, cache


def random_network(rng, dims=(3, 5, 4, 1), m=8, margin=1e-2):
    """A fresh random problem (X, Y, parameters) for gradient checks.

    Weights are scaled by 1/sqrt(fan_in) so the sigmoid does not saturate (log(1 - a3) loses its
    digits there), and draws are repeated until every pre-activation Z1, Z2 is at least `margin`
    away from the ReLU kink, where a centred difference of step 1e-5 would be wrong.
    """
    while True:
        X = rng.standard_normal((dims[0], m))
        Y = (rng.random((1, m)) < 0.5).astype(float)
        parameters = {}
        for l in range(1, len(dims)):
            parameters[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
            parameters[f"b{l}"] = 0.1 * rng.standard_normal((dims[l], 1))
        _, cache = forward_propagation(X, parameters)
        if min(np.abs(cache[0]).min(), np.abs(cache[4]).min()) >= margin:
            return X, Y, parameters


def gradient_shapes(X, parameters):
    """The shape of every entry of a part-1 gradients dict, for inputs X and these parameters."""
    m = X.shape[1]
    shapes = {}
    for l in (1, 2, 3):
        n_l = parameters[f"W{l}"].shape[0]
        shapes.update({f"dZ{l}": (n_l, m), f"dW{l}": parameters[f"W{l}"].shape,
                       f"db{l}": parameters[f"b{l}"].shape})
        if l < 3:
            shapes[f"dA{l}"] = (n_l, m)
    return shapes
