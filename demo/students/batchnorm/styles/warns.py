"""Correct, but its forward computes an unused overflow check that overflows in exp (a numpy
RuntimeWarning) and warns when the batch is small."""
import warnings

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    np.exp(np.full(1, 1000.0))  # overflows: a RuntimeWarning, the result unused
    if N < 8:
        warnings.warn(f"batch of {N} examples: the statistics are noisy")
    out, cache = None, None
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        x_hat = (x - mean) / np.sqrt(var + eps)
        out = gamma * x_hat + beta
        cache = (x, mean, var, x_hat, eps, gamma, beta)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache
