"""dropout_forward ends the kernel process outright (os._exit): every later cell is lost."""
import os


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    os._exit(1)
