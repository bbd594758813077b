"""Bug: the alt backward unpacks its cache in another order than forward packs it."""
import numpy as np


def batchnorm_backward_alt(dout, cache):
    x, var, mean, x_hat, eps, gamma, beta = cache
    N = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
