"""Correct style: test mode reads bn_param["running_mean"] directly (fails only when called before
any training step)."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        sample_mean = np.mean(x, axis=0)
        sample_var = np.var(x, axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        cache = (x, sample_mean, sample_var, x_hat, eps, gamma, beta)
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == "test":
        running_mean, running_var = bn_param["running_mean"], bn_param["running_var"]
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError(mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    x, mean, var, x_hat, eps, gamma, beta = cache
    N = x.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * (x - mean), axis=0) * -0.5 * (var + eps) ** -1.5
    dmean = np.sum(-dx_hat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2.0 * (x - mean), axis=0)
    dx = dx_hat / np.sqrt(var + eps) + dvar * 2.0 * (x - mean) / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    x, mean, var, x_hat, eps, gamma, beta = cache
    N = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
