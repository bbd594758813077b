"""Correct style: test mode reads bn_param["running_mean"] and bn_param["running_var"] directly,
which fails only when test mode is called before any training step."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if bn_param["mode"] == "test":
        normalized = (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps)
        return gamma * normalized + beta, None
    mean, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    zeros = np.zeros(x.shape[1])
    bn_param["running_mean"] = momentum * bn_param.get("running_mean", zeros) + (1 - momentum) * mean
    bn_param["running_var"] = momentum * bn_param.get("running_var", zeros) + (1 - momentum) * var
    return gamma * x_hat + beta, (x, mean, var, x_hat, eps, gamma, beta)
