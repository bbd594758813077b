"""Bug: a forward that does not normalize, x -> x (with an empty cache), and a backward that is the
exact gradient of that wrong forward: the pair agrees with itself, not with batch normalization."""


def batchnorm_forward(x, gamma, beta, bn_param):
    return x, ()


def batchnorm_backward(dout, cache):
    return dout, 0 * dout.sum(axis=0), 0 * dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    return dout, 0 * dout.sum(axis=0), 0 * dout.sum(axis=0)
