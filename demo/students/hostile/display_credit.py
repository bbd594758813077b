"""Graded functions that compute nothing and show something instead, as if a display made
before a test fails were credit: a text through the display hook, a number through display(),
raw display data through the display publisher."""
import sys

from IPython.display import display


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    sys.displayhook("work in progress")


def backward_propagation_with_regularization(X, Y, cache, lambd):
    display(3.0)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    sys.displayhook(2.0)
    return None, None


def batchnorm_forward(x, gamma, beta, bn_param):
    display({"text/plain": "6.0"}, raw=True)
    return None, None


def batchnorm_backward(dout, cache):
    sys.displayhook("done")
