"""Correct: dict cache, variance by hand, compact backward, alt that calls the other backward."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    bn_param.setdefault("running_mean", np.zeros(D))
    bn_param.setdefault("running_var", np.zeros(D))
    if bn_param["mode"] == "train":
        mu = x.sum(axis=0) / x.shape[0]
        centred = x - mu
        var = (centred ** 2).sum(axis=0) / x.shape[0]
        std = np.sqrt(var + eps)
        x_hat = centred / std
        bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mu
        bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * var
        return gamma * x_hat + beta, {"x_hat": x_hat, "std": std, "gamma": gamma}
    if bn_param["mode"] == "test":
        x_hat = (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps)
        return gamma * x_hat + beta, None
    raise ValueError("mode must be 'train' or 'test'")


def batchnorm_backward(dout, cache):
    x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    return batchnorm_backward(dout, cache)
