"""Bug: a typo that runs only because the notebook has a global x: N from the wrong array."""
import numpy as np


def batchnorm_backward(dout, cache):
    x_in, mean, var, x_hat, eps, gamma, beta = cache
    N = x.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * (x_in - mean), axis=0) * -0.5 * (var + eps) ** -1.5
    dmean = np.sum(-dx_hat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2.0 * (x_in - mean), axis=0)
    dx = dx_hat / np.sqrt(var + eps) + dvar * 2.0 * (x_in - mean) / N + dmean / N
    return dx, dgamma, dbeta
