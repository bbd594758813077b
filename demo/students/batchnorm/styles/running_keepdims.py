"""Correct style: statistics taken with keepdims=True, so the running averages are stored with
shape (1, D); the classic backward works on this cache unchanged."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    mu = np.mean(x, axis=0, keepdims=True)
    var = np.var(x, axis=0, keepdims=True)
    if bn_param["mode"] == "test":
        mu = bn_param.get("running_mean", np.zeros_like(mu))
        var = bn_param.get("running_var", np.zeros_like(var))
        return gamma * (x - mu) / np.sqrt(var + eps) + beta, None
    x_hat = (x - mu) / np.sqrt(var + eps)
    for key, value in (("running_mean", mu), ("running_var", var)):
        bn_param[key] = momentum * bn_param.get(key, np.zeros_like(value)) + (1 - momentum) * value
    return gamma * x_hat + beta, (x, mu, var, x_hat, eps, gamma, beta)
