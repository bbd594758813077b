"""The BN forward pass allocates memory without bound."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    hoard = []
    while True:
        hoard.append(np.ones(10**8))
