"""Correct: a 12-item tuple cache, np.var with keepdims, backward written compactly with
np.mean, and a fully simplified alt."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode, eps = bn_param["mode"], bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    rm = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    rv = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "test":
        return gamma * ((x - rm) / np.sqrt(rv + eps)) + beta, None
    mu = np.mean(x, axis=0, keepdims=True)
    var = np.var(x, axis=0, keepdims=True)
    std = np.sqrt(var + eps)
    xc = x - mu
    xn = xc / std
    out = gamma * xn + beta
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu.ravel()
    bn_param["running_var"] = momentum * rv + (1 - momentum) * var.ravel()
    cache = (mode, x, mu, var, std, xc, xn, gamma, beta, eps, N, D)
    return out, cache


def batchnorm_backward(dout, cache):
    mode, x, mu, var, std, xc, xn, gamma, beta, eps, N, D = cache
    dxn = dout * gamma
    dvar = np.sum(dxn * xc, axis=0) * -0.5 / std[0] ** 3
    dmu = -np.sum(dxn, axis=0) / std[0] - 2 * dvar * np.mean(xc, axis=0)
    dx = dxn / std + 2 * dvar * xc / N + dmu / N
    return dx, np.sum(dout * xn, axis=0), np.sum(dout, axis=0)


def batchnorm_backward_alt(dout, cache):
    mode, x, mu, var, std, xc, xn, gamma, beta, eps, N, D = cache
    dgamma = np.sum(dout * xn, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx = (gamma / (N * std)) * (N * dout - dbeta - xn * dgamma)
    return dx, dgamma, dbeta
