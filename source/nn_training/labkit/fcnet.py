"""The fully connected network of part 2, its layers, two update rules and a training loop.

Data are row-major: x is (N, D), one example per row, and labels y are (N,) integers in
[0, C). Layers follow the forward/backward contract of the lab: `*_forward` returns
(out, cache) and `*_backward(dout, cache)` returns the gradients of its inputs.

Batch normalization is not implemented here: it is the exercise. `FullyConnectedNet` calls the
functions you pass it as `bn_forward` and `bn_backward`.
"""
from contextlib import nullcontext

import numpy as np


def affine_forward(x, w, b):
    """Fully connected layer: out = x w + b.

    Inputs: x (N, D), w (D, M), b (M,).
    Returns: out (N, M) and cache = (x, w) for affine_backward.
    """
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    """Backward pass of affine_forward.

    Inputs: dout (N, M), the upstream gradient; cache from affine_forward.
    Returns: dx (N, D), dw (D, M), db (M,).
    """
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    """Elementwise max(0, x). Returns: out (same shape as x) and cache = x."""
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """Backward pass of relu_forward: the gradient flows only where the input was positive."""
    return dout * (cache > 0)


def softmax_loss(scores, y):
    """Mean cross-entropy of the softmax of the class scores.

    Inputs: scores (N, C); y (N,) integer labels in [0, C).
    Returns: loss (float) and dscores (N, C), the gradient of the loss.
    """
    # subtracting the row maximum leaves the softmax unchanged and keeps exp() from overflowing
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return float(loss), dscores / n


class FullyConnectedNet:
    """{affine - [batchnorm] - relu} x (L - 1) - affine - softmax, with L = len(hidden_dims) + 1.

    Parameters (in `self.params`): W1..WL (d_{l-1}, d_l) drawn from N(0, weight_scale^2), b1..bL
    zeros (d_l,); with batch normalization also gamma1..gamma{L-1} ones and beta1..beta{L-1} zeros
    (d_l,), one pair per hidden layer. `self.bn_params` holds one bn_param dict per batchnorm
    layer (mode, running_mean, running_var); the network sets its mode at every call of `loss`.
    """

    def __init__(self, hidden_dims, input_dim=64, num_classes=10, weight_scale=1e-2, reg=0.0,
                 normalization=None, bn_forward=None, bn_backward=None, dtype=np.float64, seed=0):
        """hidden_dims: list of the hidden layer sizes. reg: L2 strength on the weights W only.
        normalization: None or "batchnorm"; the latter needs `bn_forward(x, gamma, beta, bn_param)
        -> (out, cache)` and `bn_backward(dout, cache) -> (dx, dgamma, dbeta)`.
        seed: the initial weights depend on it only."""
        if normalization not in (None, "batchnorm"):
            raise ValueError(f"normalization should be None or 'batchnorm', got {normalization!r}")
        if normalization == "batchnorm" and (bn_forward is None or bn_backward is None):
            raise TypeError("FullyConnectedNet(normalization='batchnorm') needs your functions: "
                            "pass bn_forward=batchnorm_forward, bn_backward=batchnorm_backward")
        self.normalization = normalization
        self.bn_forward, self.bn_backward = bn_forward, bn_backward
        self.reg = reg
        self.dtype = dtype
        self.num_layers = len(hidden_dims) + 1

        rng = np.random.default_rng(seed)
        dims = [input_dim, *hidden_dims, num_classes]
        self.params = {}
        for l in range(1, self.num_layers + 1):
            self.params[f"W{l}"] = (weight_scale * rng.standard_normal((dims[l - 1], dims[l]))).astype(dtype)
            self.params[f"b{l}"] = np.zeros(dims[l], dtype=dtype)
        self.bn_params = []
        if normalization == "batchnorm":
            for l, d in enumerate(hidden_dims, start=1):
                self.params[f"gamma{l}"] = np.ones(d, dtype=dtype)
                self.params[f"beta{l}"] = np.zeros(d, dtype=dtype)
                self.bn_params.append({"mode": "train", "running_mean": np.zeros(d, dtype=dtype),
                                       "running_var": np.zeros(d, dtype=dtype)})

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients.

        Inputs: X (N, input_dim); y (N,) integer labels, or None.
        Returns: with y None (test mode: batchnorm uses its running statistics), scores
        (N, num_classes); otherwise (train mode) loss (float, data loss plus
        0.5 * reg * sum of squared weights) and grads, a dict shaped like self.params.
        """
        X = np.asarray(X, dtype=self.dtype)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        L, p = self.num_layers, self.params
        h, caches = X, []
        for l in range(1, L):
            h, affine_cache = affine_forward(h, p[f"W{l}"], p[f"b{l}"])
            bn_cache = None
            if self.normalization == "batchnorm":
                h, bn_cache = self.bn_forward(h, p[f"gamma{l}"], p[f"beta{l}"], self.bn_params[l - 1])
            h, relu_cache = relu_forward(h)
            caches.append((affine_cache, bn_cache, relu_cache))
        scores, last_cache = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(p[f"W{l}"] ** 2) for l in range(1, L + 1))
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for l in range(L - 1, 0, -1):
            affine_cache, bn_cache, relu_cache = caches[l - 1]
            dh = relu_backward(dh, relu_cache)
            if self.normalization == "batchnorm":
                dh, grads[f"gamma{l}"], grads[f"beta{l}"] = self.bn_backward(dh, bn_cache)
            dh, grads[f"W{l}"], grads[f"b{l}"] = affine_backward(dh, affine_cache)
        for l in range(1, L + 1):
            grads[f"W{l}"] = grads[f"W{l}"] + self.reg * p[f"W{l}"]
        return float(loss), grads


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum: v = momentum * v - learning_rate * dw; w += v.

    config keys: learning_rate (default 1e-2), momentum (0.9), velocity (zeros like w; updated).
    Returns: next_w and config.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config["momentum"] * config.get("velocity", np.zeros_like(w)) - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def adam(w, dw, config=None):
    """Adam: step along the bias-corrected running mean of the gradient, divided by the root of
    the bias-corrected running mean of its square.

    config keys: learning_rate (default 1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), and
    the state m, v (zeros like w) and t (0), updated here.
    Returns: next_w and config.
    """
    config = {} if config is None else config
    for key, default in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8),
                         ("m", np.zeros_like(w)), ("v", np.zeros_like(w)), ("t", 0)):
        config.setdefault(key, default)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw ** 2
    # both averages start at zero: dividing by 1 - beta^t removes that bias in the first steps
    m_hat = config["m"] / (1 - b1 ** config["t"])
    v_hat = config["v"] / (1 - b2 ** config["t"])
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


UPDATE_RULES = {"sgd_momentum": sgd_momentum, "adam": adam}


def accuracy(model, X, y, batch_size=500):
    """Fraction of the rows of X whose highest test-mode score is at the label y, as a float."""
    # a diverged network has nan scores: its predictions are meaningless but must not warn
    with np.errstate(all="ignore"):
        predictions = np.concatenate([np.argmax(model.loss(X[i:i + batch_size]), axis=1)
                                      for i in range(0, X.shape[0], batch_size)])
    return float(np.mean(predictions == y))


def train(model, data, update_rule="adam", learning_rate=1e-3, num_epochs=10, batch_size=100,
          seed=0, lr_decay=1.0, verbose=False):
    """Train `model` in place by minibatch gradient descent.

    Inputs: data, a dict with X_train (N, D), y_train (N,), X_val, y_val; update_rule "adam" or
    "sgd_momentum" (or a function with their contract); learning_rate, multiplied by lr_decay
    after every epoch; seed fixes the order of the minibatches, so a run is deterministic for a
    given model. Every epoch goes once through a fresh shuffle of the training set (the last,
    incomplete minibatch is dropped). Training stops early, after recording the accuracies of
    that epoch, when the loss stops being finite: the run has diverged.
    Returns: history, a dict with loss (list, one per iteration), epoch ([0, 1, ...]) with
    train_acc and val_acc measured before training and after every epoch, and diverged (bool).
    """
    rule = UPDATE_RULES[update_rule] if isinstance(update_rule, str) else update_rule
    configs = {name: {"learning_rate": learning_rate} for name in model.params}
    rng = np.random.default_rng(seed)
    X, y = data["X_train"], data["y_train"]
    history = {"loss": [], "epoch": [], "train_acc": [], "val_acc": [], "diverged": False}
    with _one_blas_thread():
        _record_accuracies(model, data, history, epoch=0)
        for epoch in range(1, num_epochs + 1):
            order = rng.permutation(X.shape[0])
            for start in range(0, X.shape[0] - batch_size + 1, batch_size):
                batch = order[start:start + batch_size]
                # a diverging run overflows on its way to inf or nan: its loss reports it
                with np.errstate(over="ignore", invalid="ignore"):
                    loss = _step(model, X[batch], y[batch], rule, configs)
                history["loss"].append(loss)
                if not np.isfinite(loss):
                    history["diverged"] = True
                    break
            _record_accuracies(model, data, history, epoch)
            if verbose:
                print(f"epoch {epoch}/{num_epochs}: loss {history['loss'][-1]:.3f}, "
                      f"train acc {history['train_acc'][-1]:.3f}, val acc {history['val_acc'][-1]:.3f}")
            if history["diverged"]:
                break
            for config in configs.values():
                config["learning_rate"] *= lr_decay
    return history


def _step(model, X, y, rule, configs):
    """One update of every parameter on the minibatch (X, y); returns the minibatch loss."""
    loss, grads = model.loss(X, y)
    if np.isfinite(loss):
        for name, w in model.params.items():
            model.params[name], configs[name] = rule(w, grads[name], configs[name])
    return loss


def _record_accuracies(model, data, history, epoch):
    history["epoch"].append(epoch)
    history["train_acc"].append(accuracy(model, data["X_train"], data["y_train"]))
    history["val_acc"].append(accuracy(model, data["X_val"], data["y_val"]))


def _one_blas_thread():
    """Limit BLAS to one thread: on matrices this small, threads cost more time than they save
    (more than twice slower on a busy 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def load_digits_split(seed=0, val_fraction=0.2):
    """The handwritten digits of scikit-learn (1797 images of 8x8 pixels, labels 0-9), split into
    a training and a validation set, stratified by label.

    Uses the copy bundled with scikit-learn: nothing is downloaded. Features are standardised
    with the mean and standard deviation of the training set (pixels constant there are only
    centred).
    Returns: dict with X_train (N_train, 64), y_train (N_train,), X_val (N_val, 64), y_val (N_val,);
    X float64, y int64.
    """
    from sklearn.datasets import load_digits  # imported here: only this function needs sklearn
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_train, X_val, y_train, y_val = train_test_split(
        digits.data.astype(np.float64), digits.target.astype(np.int64), test_size=val_fraction,
        random_state=seed, stratify=digits.target)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0
    return {"X_train": (X_train - mean) / std, "y_train": y_train,
            "X_val": (X_val - mean) / std, "y_val": y_val}
