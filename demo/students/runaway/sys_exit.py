"""l2 cost calls sys.exit() instead of raising: its cells fail, the rest of the notebook runs."""
import sys


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    sys.exit("giving up")
