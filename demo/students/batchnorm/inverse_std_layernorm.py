"""Correct: multiplies by the inverse deviation, a list cache of 3 items, in-place arithmetic on
fresh arrays, and an extra layer-norm option (bn_param["layernorm"]) that the tests never set."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    axis = 1 if bn_param.get("layernorm") else 0
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))
    if bn_param["mode"] == "train" or axis == 1:
        mean = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = x - mean
        x_hat *= inv_std
        out = x_hat * gamma
        out += beta
        if axis == 0:
            bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean[0]
            bn_param["running_var"] = momentum * running_var + (1 - momentum) * var[0]
        return out, [x_hat, gamma, inv_std]
    out = (x - running_mean) * (1.0 / np.sqrt(running_var + eps)) * gamma + beta
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, None


def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    N = dout.shape[0]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(0)
    dgamma = (x_hat * dout).sum(0)
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0))
    return dx, dgamma, dbeta
