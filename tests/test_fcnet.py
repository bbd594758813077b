"""The fully connected network of part 2 (labkit.fcnet) and its experiments (labkit.experiments),
tested with a reference batch normalization that lives here only: labkit is given to students
and must not hold one."""
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from labkit import experiments, fcnet  # noqa: E402  (importable: conftest.COURSE_CODE)
from labkit.checks import check_gradient, eval_numerical_gradient, eval_numerical_gradient_array  # noqa: E402
from labkit.fcnet import FullyConnectedNet, load_digits_split, train  # noqa: E402


def bn_forward(x, gamma, beta, bn_param):
    """Reference batchnorm forward pass (the contract of the students' batchnorm_forward)."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1]))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1]))
    if bn_param["mode"] == "test":
        return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta, None
    mean, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    return gamma * x_hat + beta, (x_hat, gamma, std)


def bn_backward(dout, cache):
    """Reference batchnorm backward pass, simplified on paper."""
    x_hat, gamma, std = cache
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


@pytest.fixture
def no_show(monkeypatch):
    """plt.show closes the figures instead of showing them."""
    monkeypatch.setattr(plt, "show", lambda: plt.close("all"))


def small_data(digits, n_train=200, n_val=100):
    return {"X_train": digits["X_train"][:n_train], "y_train": digits["y_train"][:n_train],
            "X_val": digits["X_val"][:n_val], "y_val": digits["y_val"][:n_val]}


# ---- layers ----

def test_affine_gradients():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    out, cache = fcnet.affine_forward(x, w, b)
    assert np.allclose(out, x @ w + b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = fcnet.affine_backward(dout, cache)
    check_gradient(dx, eval_numerical_gradient_array(lambda v: fcnet.affine_forward(v, w, b)[0], x, dout), "dx")
    check_gradient(dw, eval_numerical_gradient_array(lambda v: fcnet.affine_forward(x, v, b)[0], w, dout), "dw")
    check_gradient(db, eval_numerical_gradient_array(lambda v: fcnet.affine_forward(x, w, v)[0], b, dout), "db")


def test_relu_gradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 7))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink, where the numerical gradient is wrong
    out, cache = fcnet.relu_forward(x)
    assert np.array_equal(out, np.maximum(0, x))
    dout = rng.standard_normal(x.shape)
    numerical = eval_numerical_gradient_array(lambda v: fcnet.relu_forward(v)[0], x, dout)
    check_gradient(fcnet.relu_backward(dout, cache), numerical, "dx")


def test_softmax_loss():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, size=8)
    loss, _ = fcnet.softmax_loss(np.zeros((8, 10)), y)
    assert loss == pytest.approx(np.log(10))
    scores = rng.standard_normal((8, 10)) * 3
    loss, dscores = fcnet.softmax_loss(scores, y)
    check_gradient(dscores, eval_numerical_gradient(lambda s: fcnet.softmax_loss(s, y)[0], scores), "dscores")
    # huge scores must not overflow
    assert np.isfinite(fcnet.softmax_loss(scores * 1e4, y)[0])


def test_reference_batchnorm_is_right():
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.standard_normal((7, 4)) * 3 + 2, rng.standard_normal(4), rng.standard_normal(4)
    out, cache = bn_forward(x, gamma, beta, {"mode": "train"})
    assert np.allclose(out.mean(axis=0), beta) and np.allclose(out.std(axis=0), np.abs(gamma), rtol=1e-4)
    dout = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = bn_backward(dout, cache)

    def f(_):  # reads x, gamma and beta, which the numerical gradient changes in place
        return bn_forward(x, gamma, beta, {"mode": "train"})[0]

    for analytic, value, name in ((dx, x, "dx"), (dgamma, gamma, "dgamma"), (dbeta, beta, "dbeta")):
        check_gradient(analytic, eval_numerical_gradient_array(f, value, dout), name, tol=1e-7)


# ---- the network ----

@pytest.mark.parametrize("normalization", [None, "batchnorm"])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_network_gradients(normalization, reg):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((5, 4)), rng.integers(0, 3, size=5)
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, weight_scale=0.5, reg=reg,
                              normalization=normalization, bn_forward=bn_forward,
                              bn_backward=bn_backward, seed=0)
    expected = {"W1", "b1", "W2", "b2", "W3", "b3"}
    if normalization:
        expected |= {"gamma1", "beta1", "gamma2", "beta2"}
    assert set(model.params) == expected
    loss, grads = model.loss(X, y)
    assert set(grads) == expected
    for name, value in model.params.items():
        numerical = eval_numerical_gradient(lambda _: model.loss(X, y)[0], value)
        if normalization and name in ("b1", "b2"):
            # batchnorm subtracts the mean right after: these biases have no effect at all
            assert np.abs(grads[name]).max() < 1e-10 and np.abs(numerical).max() < 1e-6
            continue
        check_gradient(grads[name], numerical, f"{name} ({normalization}, reg {reg})", tol=1e-6)


def test_network_shapes_and_modes():
    model = FullyConnectedNet([8, 7], weight_scale=0.1, normalization="batchnorm",
                              bn_forward=bn_forward, bn_backward=bn_backward, dtype=np.float32)
    assert model.params["W1"].shape == (64, 8) and model.params["W3"].shape == (7, 10)
    assert model.params["gamma2"].shape == (7,) and model.params["W2"].dtype == np.float32
    assert len(model.bn_params) == 2
    X, y = np.random.default_rng(5).standard_normal((12, 64)), np.arange(12) % 10
    model.loss(X, y)
    assert all(p["mode"] == "train" and np.any(p["running_mean"] != 0) for p in model.bn_params)
    scores = model.loss(X)
    assert scores.shape == (12, 10)
    assert all(p["mode"] == "test" for p in model.bn_params)


def test_batchnorm_needs_the_students_functions():
    with pytest.raises(TypeError, match="bn_forward"):
        FullyConnectedNet([10], normalization="batchnorm")
    with pytest.raises(TypeError, match="bn_backward"):
        FullyConnectedNet([10], normalization="batchnorm", bn_forward=bn_forward)
    with pytest.raises(ValueError):
        FullyConnectedNet([10], normalization="layernorm")
    FullyConnectedNet([10])  # no batchnorm: no function needed


def test_labkit_holds_no_batchnorm():
    for module in (fcnet, experiments):
        assert not [name for name in vars(module) if name.startswith("batchnorm")]


# ---- optimizers and training ----

def test_sgd_momentum():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    w1, config = fcnet.sgd_momentum(w, dw, {"learning_rate": 0.1, "momentum": 0.9})
    assert np.allclose(w1, w - 0.1 * dw)
    w2, _ = fcnet.sgd_momentum(w1, dw, config)
    assert np.allclose(w2, w1 - 0.9 * 0.1 * dw - 0.1 * dw)


def test_adam():
    w, dw = np.array([1.0, -2.0, 3.0]), np.array([0.5, -1e-3, 20.0])
    w1, config = fcnet.adam(w, dw, {"learning_rate": 0.01})
    # bias correction makes the first step learning_rate * sign(dw)
    assert np.allclose(w1, w - 0.01 * np.sign(dw), atol=1e-6)
    assert config["t"] == 1
    w2, config = fcnet.adam(w1, dw, config)
    assert np.allclose(w2, w1 - 0.01 * np.sign(dw), atol=1e-6) and config["t"] == 2


def test_load_digits_split(digits):
    assert digits["X_train"].shape == (1437, 64) and digits["X_val"].shape == (360, 64)
    assert digits["X_train"].dtype == np.float64 and digits["y_train"].shape == (1437,)
    assert set(digits["y_val"]) == set(range(10))
    assert np.allclose(digits["X_train"].mean(axis=0), 0)
    assert np.all(np.isclose(digits["X_train"].std(axis=0), 1) | (digits["X_train"].std(axis=0) == 0))


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_training_is_deterministic(digits, normalization):
    data = small_data(digits)

    def run(seed):
        model = FullyConnectedNet([20, 20], weight_scale=0.1, normalization=normalization,
                                  bn_forward=bn_forward, bn_backward=bn_backward, seed=seed)
        return model, train(model, data, "adam", 1e-2, num_epochs=3, batch_size=40, seed=seed)

    (model_a, history_a), (model_b, history_b), (_, history_c) = run(0), run(0), run(1)
    assert history_a == history_b
    assert all(np.array_equal(model_a.params[k], model_b.params[k]) for k in model_a.params)
    assert history_a["loss"] != history_c["loss"]
    assert len(history_a["loss"]) == 3 * 5 and history_a["epoch"] == [0, 1, 2, 3]
    assert len(history_a["train_acc"]) == len(history_a["val_acc"]) == 4
    assert np.mean(history_a["loss"][-5:]) < history_a["loss"][0] and not history_a["diverged"]


def test_divergence_stops_training_quietly(digits):
    def explode(w, dw, config):  # an update rule that sends the weights to inf in a few steps
        return w * 1e100, config

    model = FullyConnectedNet([30, 30], weight_scale=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train(model, small_data(digits), explode, num_epochs=5, batch_size=40)
    assert history["diverged"] and history["epoch"] == [0, 1]
    assert len(history["loss"]) < 5 and not np.isfinite(history["loss"][-1])
    assert len(history["val_acc"]) == 2


# ---- experiments ----

def test_sweeps_on_a_tiny_configuration(digits, no_show):
    data = small_data(digits)
    tiny = dict(hidden_dims=(10, 10), num_epochs=1, batch_size=40)
    sweeps = [experiments.weight_scale_sweep(data, bn_forward, bn_backward, weight_scales=(1e-2, 1e-1), **tiny),
              experiments.learning_rate_sweep(data, bn_forward, bn_backward, learning_rates=(1e-2, 10.0), **tiny)]
    for sweep, name in zip(sweeps, ("weight_scale", "learning_rate")):
        assert sweep["name"] == name and len(sweep["values"]) == 2
        for key in ("val_acc", "train_acc", "diverged"):
            assert set(sweep[key]) == {experiments.WITHOUT_BN, experiments.WITH_BN}
            assert all(len(v) == 2 for v in sweep[key].values())
        assert all(0 <= a <= 1 for v in sweep["val_acc"].values() for a in v)
        assert len(experiments.format_sweep(sweep).splitlines()) == 3
    experiments.plot_sweeps(*sweeps)
    runs = experiments.compare_batchnorm(data, bn_forward, bn_backward, **tiny)
    experiments.plot_training_curves(runs, "tiny")


def test_default_experiment_supports_the_claims(digits):
    """Short versions of the notebook's runs: batchnorm trains faster, survives a tiny weight
    scale and a learning rate at which the plain network diverges."""
    runs = experiments.compare_batchnorm(digits, bn_forward, bn_backward, num_epochs=2)
    assert runs[experiments.WITH_BN]["val_acc"][-1] > 0.85
    assert runs[experiments.WITHOUT_BN]["val_acc"][-1] < 0.5
    tiny_scale = experiments.weight_scale_sweep(digits, bn_forward, bn_backward, weight_scales=(1e-3,),
                                                num_epochs=3)
    assert tiny_scale["val_acc"][experiments.WITH_BN][0] > 0.85
    assert tiny_scale["val_acc"][experiments.WITHOUT_BN][0] < 0.2
    large_rate = experiments.learning_rate_sweep(digits, bn_forward, bn_backward, learning_rates=(1.0,),
                                                 num_epochs=3)
    assert large_rate["diverged"][experiments.WITHOUT_BN] == [True]
    assert large_rate["val_acc"][experiments.WITH_BN][0] > 0.6


def test_compare_speed():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 40))
    out, cache = bn_forward(x, np.ones(40), np.zeros(40), {"mode": "train"})
    result = experiments.compare_speed(bn_backward, bn_backward, (rng.standard_normal(out.shape), cache), repeats=20)
    assert set(result) == {"speedup_median", "speedup_p5", "speedup_p95", "slow_median", "fast_median", "repeats"}
    assert result["repeats"] == 20
    assert 0 < result["speedup_p5"] <= result["speedup_median"] <= result["speedup_p95"]
    assert result["slow_median"] > 0 and result["fast_median"] > 0
    line = experiments.format_speed(result)
    assert "batchnorm_backward_alt" in line and "\n" not in line
