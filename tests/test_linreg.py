"""The regression lab against its oracles: least squares, torch.autograd, the lecture's own numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from drlab.common.errors import UsageError
from drlab.linreg.config import METHODS, NUMPY_METHODS, TORCH_METHODS, LinregConfig
from drlab.linreg.data import FitResult, RegressionData, least_squares, make_data, mse
from drlab.linreg.lab import fit, run_lab
from drlab.linreg.numpy_gd import (
    fit_numpy_batch,
    fit_numpy_minibatch,
    fit_numpy_sgd,
    numpy_gradients,
    numpy_initial_parameters,
)
from drlab.linreg.torch_steps import torch_initial_parameters


@pytest.fixture(scope="module")
def data() -> RegressionData:
    return make_data()


@pytest.fixture(scope="module")
def ols(data: RegressionData) -> tuple[float, float]:
    return least_squares(data.x_train, data.y_train)


@pytest.fixture(scope="module")
def lecture_runs(data: RegressionData) -> dict[str, FitResult]:
    """Every method once with the lecture's settings (lr 0.1, 1000 epochs, n = 16)."""
    return {method: fit(method, data) for method in METHODS}


# --- the data -----------------------------------------------------------------------------------------


def test_data_is_the_lecture_snippet_and_leaves_the_global_generator_alone() -> None:
    saved = np.random.get_state()
    try:
        # the lecture, verbatim, on NumPy's global generator
        np.random.seed(40)
        x = np.random.rand(100, 1)
        y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
        idx = np.arange(100)
        np.random.shuffle(idx)
        train_idx, val_idx = idx[:80], idx[80:]

        np.random.seed(123)
        before = np.random.get_state()[1].copy()
        data = make_data()
        after = np.random.get_state()[1]
    finally:
        np.random.set_state(saved)
    np.testing.assert_array_equal(data.x_train, x[train_idx])
    np.testing.assert_array_equal(data.y_train, y[train_idx])
    np.testing.assert_array_equal(data.x_val, x[val_idx])
    np.testing.assert_array_equal(data.y_val, y[val_idx])
    np.testing.assert_array_equal(before, after)


def test_data_settings_can_be_changed() -> None:
    data = make_data(seed=1, n_samples=50, noise=0.0, true_a=-3.0, true_b=0.5)
    assert data.x_train.shape == (40, 1) and data.x_val.shape == (10, 1)
    # without noise every point lies on the line, and least squares finds it
    np.testing.assert_allclose(data.y_train, -3.0 + 0.5 * data.x_train)
    np.testing.assert_allclose(least_squares(data.x_train, data.y_train), (-3.0, 0.5), atol=1e-12)


def test_least_squares_is_where_the_hand_derived_gradient_vanishes(
    data: RegressionData, ols: tuple[float, float]
) -> None:
    grad_a, grad_b = numpy_gradients(*ols, data.x_train, data.y_train)
    assert abs(grad_a) < 1e-12 and abs(grad_b) < 1e-12
    # and it is a minimum: moving away in any direction raises the MSE
    best = mse(*ols, data.x_train, data.y_train)
    for da, db in ((1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)):
        assert mse(ols[0] + da, ols[1] + db, data.x_train, data.y_train) > best


# --- convergence to least squares (issue §5) ----------------------------------------------------------

TOLERANCES = {"numpy-batch": 1e-3, "numpy-minibatch": 1e-2, "numpy-sgd": 5e-2} | dict.fromkeys(
    TORCH_METHODS, 1e-3
)


@pytest.mark.parametrize("method", METHODS)
def test_each_method_reaches_least_squares(
    method: str, lecture_runs: dict[str, FitResult], ols: tuple[float, float]
) -> None:
    result = lecture_runs[method]
    assert abs(result.a - ols[0]) < TOLERANCES[method]
    assert abs(result.b - ols[1]) < TOLERANCES[method]
    assert result.distance_to(*ols) < TOLERANCES[method] * np.sqrt(2)


def test_module_prints_the_slides_state_dict(lecture_runs: dict[str, FitResult]) -> None:
    # the slide: OrderedDict([('a', tensor([0.9998])), ('b', tensor([1.9619]))])
    state = lecture_runs["module"].state_dict
    assert state is not None
    assert round(state["a"][0], 4) == 0.9998 and round(state["b"][0], 4) == 1.9619
    layer_state = lecture_runs["layer"].state_dict
    assert layer_state is not None and set(layer_state) == {"linear.weight", "linear.bias"}
    assert layer_state["linear.bias"][0] == pytest.approx(lecture_runs["layer"].a)
    assert layer_state["linear.weight"][0] == pytest.approx(lecture_runs["layer"].b)


def test_history_is_the_mse_along_the_trajectory(
    data: RegressionData, lecture_runs: dict[str, FitResult]
) -> None:
    for result in lecture_runs.values():
        assert result.trajectory.shape == (1001, 2)
        assert result.train_loss.shape == result.val_loss.shape == (1001,)
        a0, b0 = result.trajectory[0]
        assert result.train_loss[0] == pytest.approx(mse(a0, b0, data.x_train, data.y_train))
        assert result.train_mse == pytest.approx(mse(result.a, result.b, data.x_train, data.y_train))
        assert result.val_mse == pytest.approx(mse(result.a, result.b, data.x_val, data.y_val))
        assert result.train_mse < result.train_loss[0]
    # full-batch descent on a convex quadratic with a small enough step never goes up
    assert np.all(np.diff(lecture_runs["numpy-batch"].train_loss) <= 1e-15)


def test_the_lectures_starting_points(lecture_runs: dict[str, FitResult]) -> None:
    a, b = numpy_initial_parameters(42)
    assert tuple(lecture_runs["numpy-batch"].trajectory[0]) == (a.item(), b.item())
    a_t, b_t = torch_initial_parameters(42)
    for method in ("autograd", "optim", "loss", "module"):
        assert tuple(lecture_runs[method].trajectory[0]) == (a_t.item(), b_t.item())
    assert round(a_t.item(), 4) == 0.3367 and round(b_t.item(), 4) == 0.1288  # the slide's print


# --- oracles: autograd, equal trajectories, equivalent modes ---------------------------------------------


@pytest.mark.parametrize("a,b", [(0.0, 0.0), (0.3367, 0.1288), (-2.5, 4.0)])
def test_numpy_gradients_equal_autograd(data: RegressionData, a: float, b: float) -> None:
    a_t = torch.tensor([a], dtype=torch.float64, requires_grad=True)
    b_t = torch.tensor([b], dtype=torch.float64, requires_grad=True)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    loss = ((y - (a_t + b_t * x)) ** 2).mean()
    loss.backward()
    assert a_t.grad is not None and b_t.grad is not None
    by_hand = numpy_gradients(a, b, data.x_train, data.y_train)
    assert by_hand == pytest.approx((a_t.grad.item(), b_t.grad.item()), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("method", TORCH_METHODS)
def test_torch_variants_follow_numpy_batch_from_the_same_start(data: RegressionData, method: str) -> None:
    start = (0.3367, 0.1288)
    reference = fit_numpy_batch(data, epochs=300, initial=start)
    result = fit(method, data, epochs=300, initial=start)
    # float32 arithmetic against float64: equal to about 1e-6, at every epoch
    np.testing.assert_allclose(result.trajectory, reference.trajectory, rtol=0, atol=1e-5)


def test_stochastic_is_minibatch_of_one(data: RegressionData) -> None:
    sgd = fit_numpy_sgd(data, epochs=15, seed=3)
    minibatch = fit_numpy_minibatch(data, epochs=15, batch_size=1, seed=3)
    np.testing.assert_array_equal(sgd.trajectory, minibatch.trajectory)


def test_minibatch_of_all_samples_is_batch(data: RegressionData) -> None:
    full = fit_numpy_minibatch(data, epochs=50, batch_size=data.n_train)
    batch = fit_numpy_batch(data, epochs=50)
    np.testing.assert_allclose(full.trajectory, batch.trajectory, rtol=0, atol=1e-12)


def test_updates_per_epoch(data: RegressionData) -> None:
    """One epoch with a tiny step: the move is (number of updates) × one batch-gradient step."""
    lr = 1e-9
    step = fit_numpy_batch(data, epochs=1, lr=lr).trajectory
    moved = {
        name: result.trajectory[1] - result.trajectory[0]
        for name, result in (
            ("batch", fit_numpy_batch(data, epochs=1, lr=lr)),
            ("sgd", fit_numpy_sgd(data, epochs=1, lr=lr)),
            ("mini16", fit_numpy_minibatch(data, epochs=1, lr=lr, batch_size=16)),
            ("mini30", fit_numpy_minibatch(data, epochs=1, lr=lr, batch_size=30)),
        )
    }
    one_step = step[1] - step[0]
    # a tiny step barely moves the parameters, so each update's gradient is the batch's on its samples;
    # with the mean over n samples, ⌈N/n⌉ updates sum to ≈ N/n batch steps (the last batch may be smaller)
    np.testing.assert_allclose(moved["sgd"], 80 * one_step, rtol=1e-5)
    np.testing.assert_allclose(moved["mini16"], 5 * one_step, rtol=1e-5)
    assert np.all(np.abs(moved["mini30"]) > 2.5 * np.abs(one_step))  # 3 updates, the last one of 20 samples


def test_minibatch_refuses_a_bad_batch_size(data: RegressionData) -> None:
    for size in (0, data.n_train + 1):
        with pytest.raises(ValueError, match="batch_size"):
            fit_numpy_minibatch(data, epochs=1, batch_size=size)


# --- determinism and the caller's random state ----------------------------------------------------------


def test_same_seed_same_numbers_other_seed_other_numbers(data: RegressionData) -> None:
    for method in METHODS:
        first = fit(method, data, epochs=20, seed=7)
        again = fit(method, data, epochs=20, seed=7)
        np.testing.assert_array_equal(first.trajectory, again.trajectory)
        other = fit(method, data, epochs=20, seed=8)
        assert not np.array_equal(first.trajectory, other.trajectory)


def test_drlab_does_not_move_the_callers_generators(data: RegressionData) -> None:
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    for method in METHODS:
        fit(method, data, epochs=2)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)


def test_run_lab_and_its_json(lecture_runs: dict[str, FitResult]) -> None:
    config = LinregConfig(method="numpy-batch", epochs=1000)
    report = run_lab(config)
    payload = report.as_dict()
    assert set(payload) == {"ols", "methods"}
    (row,) = payload["methods"]
    assert set(row) == {"method", "a", "b", "train_mse", "val_mse", "dist_to_ols", "seconds"}
    assert row["a"] == lecture_runs["numpy-batch"].a


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"lr": 0.0}, "--lr"),
        ({"lr": -0.1}, "--lr"),
        ({"lr": float("nan")}, "--lr"),
        ({"epochs": 0}, "--epochs"),
        ({"batch_size": 0}, "--batch-size"),
        ({"batch_size": 81}, "--batch-size"),
        ({"n_samples": 1}, "--n-samples"),
        ({"noise": -1.0}, "--noise"),
    ],
)
def test_config_validation(changes: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        LinregConfig(**changes).check()  # type: ignore[arg-type]
    LinregConfig(batch_size=80).check()  # N itself is allowed


def test_numpy_methods_are_listed_first() -> None:
    assert METHODS[:3] == NUMPY_METHODS


def test_plots_are_png_files(
    tmp_path: Path, data: RegressionData, lecture_runs: dict[str, FitResult]
) -> None:
    from drlab.common.plots import figure_bytes
    from drlab.linreg.plots import plot_fits, plot_losses

    results = list(lecture_runs.values())
    fits = plot_fits(data, results, least_squares(data.x_train, data.y_train))
    losses = plot_losses(results)
    for figure in (fits, losses):
        assert figure_bytes(figure)[:8] == b"\x89PNG\r\n\x1a\n"
