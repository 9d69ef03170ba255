"""Lecture §3–4 — the same regression in PyTorch, one step of the lecture per function.

Read them side by side; each one replaces one hand-made piece of the previous one by PyTorch's own:

1. :func:`fit_autograd` — ``loss.backward()`` computes the gradients; update inside ``torch.no_grad()``;
   ``grad.zero_()`` because gradients accumulate;
2. :func:`fit_optim` — ``optim.SGD`` does the update (``step()``) and the zeroing (``zero_grad()``);
3. :func:`fit_loss` — ``nn.MSELoss`` computes the loss;
4. :func:`fit_module` — the model is an ``nn.Module`` holding ``nn.Parameter`` a and b;
5. :func:`fit_layer` — the model is one ``nn.Linear(1, 1)`` layer (a is its bias, b its weight).

As in the lecture the data are ``torch.from_numpy(...).float()`` (float32) and the start is
``torch.manual_seed(42)`` then ``randn``. That seeding happens inside :func:`torch_seed`, which restores
the global generator afterwards, so calling drlab does not change the random numbers of the caller.
Every function takes ``initial=(a, b)`` to start from given values instead (the tests start NumPy and
PyTorch from the same point and compare their trajectories).

Recording (a, b) after each epoch is two ``.item()`` calls: on the CPU, where this lab runs, that is a
plain read of a float (≈ 0.3 µs; on a GPU it would be a synchronisation point, and we would keep the
values on the device instead).
"""

# torch's stubs type ``Tensor.grad`` as ``Tensor | None``; after ``loss.backward()`` it is set, which
# the lecture's loops rely on. Silencing these two codes keeps the loops identical to the slides.
# mypy: disable-error-code="operator,union-attr"

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch
from torch import nn, optim

from drlab.linreg.data import FitResult, RegressionData, make_result


@contextlib.contextmanager
def torch_seed(seed: int) -> Iterator[None]:
    """``torch.manual_seed(seed)`` as the slides do, restoring the caller's generator on exit."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def to_tensors(data: RegressionData) -> tuple[torch.Tensor, torch.Tensor]:
    """The training set as float32 tensors, as the lecture makes them.

    Note: ``from_numpy`` shares memory with the array, but ``.float()`` turns the float64 array into a
    float32 copy — so these tensors do *not* share memory with ``data`` (see ``pitfalls.numpy_bridge``).
    """
    x_train_tensor = torch.from_numpy(data.x_train).float()
    y_train_tensor = torch.from_numpy(data.y_train).float()
    return x_train_tensor, y_train_tensor


def torch_initial_parameters(seed: int = 42) -> tuple[torch.Tensor, torch.Tensor]:
    """The lecture's start: ``torch.manual_seed(42)``; a, b = ``randn(1, requires_grad=True)``."""
    with torch_seed(seed):
        a = torch.randn(1, requires_grad=True, dtype=torch.float)
        b = torch.randn(1, requires_grad=True, dtype=torch.float)
    return a, b


def _start(initial: tuple[float, float] | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if initial is None:
        return torch_initial_parameters(seed)
    a = torch.tensor([initial[0]], requires_grad=True, dtype=torch.float)
    b = torch.tensor([initial[1]], requires_grad=True, dtype=torch.float)
    return a, b


# ---------------------------------------------------------------------------------------------------
# Step 1 — autograd computes the gradients; we still update by hand


def fit_autograd(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """``loss.backward()`` instead of the hand-derived gradients; manual update in ``torch.no_grad()``."""
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = _start(initial, seed)
    trajectory = [(a.item(), b.item())]
    start = time.perf_counter()
    for _epoch in range(epochs):
        # ❶ forward pass: autograd records every operation on a and b (the dynamic graph)
        yhat = a + b * x_train_tensor
        # ❷ loss: MSE
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        # ❸ gradients: backward() walks the graph from loss and fills a.grad, b.grad (∂MSE/∂a, ∂MSE/∂b)
        loss.backward()
        # ❹ update, outside the graph: an in-place change of a leaf that requires grad is refused
        #   otherwise, and `a = a - lr * a.grad` would make a new tensor with no .grad (pitfalls.py)
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
        # gradients accumulate at every backward(): zero them for the next epoch
        a.grad.zero_()
        b.grad.zero_()
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("autograd", trajectory, data, seconds)


# ---------------------------------------------------------------------------------------------------
# Step 2 — an optimiser does the update and the zeroing


def fit_optim(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """``optim.SGD([a, b], lr)``: ``step()`` replaces the manual update, ``zero_grad()`` the zeroing."""
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = _start(initial, seed)
    # the optimiser, its hyper-parameters, and the parameters it updates
    optimizer = optim.SGD([a, b], lr=lr)
    trajectory = [(a.item(), b.item())]
    start = time.perf_counter()
    for _epoch in range(epochs):
        # ❶ forward pass
        yhat = a + b * x_train_tensor
        # ❷ loss
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        # ❸ gradients
        loss.backward()
        # ❹ update: a ← a − lr·∂MSE/∂a, b ← b − lr·∂MSE/∂b, done by the optimiser
        optimizer.step()
        optimizer.zero_grad()
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("optim", trajectory, data, seconds)


# ---------------------------------------------------------------------------------------------------
# Step 3 — a loss function from torch.nn


def fit_loss(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """``nn.MSELoss(reduction='mean')`` replaces ``((y − ŷ)**2).mean()``."""
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = _start(initial, seed)
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD([a, b], lr=lr)
    trajectory = [(a.item(), b.item())]
    start = time.perf_counter()
    for _epoch in range(epochs):
        # ❶ forward pass
        yhat = a + b * x_train_tensor
        # ❷ loss: PyTorch's losses take (prediction, target). The slide writes
        #   loss_fn(y_train_tensor, yhat), harmless for the symmetric MSE but not for most losses
        #   (cross-entropy, KL, …), so we keep the documented order
        loss = loss_fn(yhat, y_train_tensor)
        # ❸ gradients
        loss.backward()
        # ❹ update
        optimizer.step()
        optimizer.zero_grad()
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("loss", trajectory, data, seconds)


# ---------------------------------------------------------------------------------------------------
# Step 4 — the model as an nn.Module with its own parameters


class ManualLinearRegression(nn.Module):
    """y = a + b·x with a and b as ``nn.Parameter`` (the lecture's §4 model, written by hand)."""

    def __init__(self) -> None:
        super().__init__()
        # nn.Parameter registers the tensor with the module: model.parameters(), state_dict(), .to()
        self.a = nn.Parameter(torch.randn(1, requires_grad=True, dtype=torch.float))
        self.b = nn.Parameter(torch.randn(1, requires_grad=True, dtype=torch.float))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Computes the outputs / predictions
        return self.a + self.b * x


def _state_dict_lists(model: nn.Module) -> dict[str, list[float]]:
    return {name: tensor.flatten().tolist() for name, tensor in model.state_dict().items()}


def fit_module(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """Train :class:`ManualLinearRegression`: ``model(x)`` replaces the hand-written prediction."""
    x_train_tensor, y_train_tensor = to_tensors(data)
    with torch_seed(seed):  # the lecture: torch.manual_seed(42); model = ManualLinearRegression()
        model = ManualLinearRegression()
    if initial is not None:
        with torch.no_grad():
            model.a.fill_(initial[0])
            model.b.fill_(initial[1])
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=lr)  # an iterator over the model's parameters
    trajectory = [(model.a.item(), model.b.item())]
    a, b = model.a, model.b  # read after each epoch for the history
    start = time.perf_counter()
    for _epoch in range(epochs):
        # training mode (matters for Dropout, BatchNorm…; a no-op here, kept as in the lecture)
        model.train()
        # ❶ forward pass: call the model, never model.forward() (the call runs PyTorch's hooks)
        yhat = model(x_train_tensor)
        # ❷ loss (prediction first, see fit_loss)
        loss = loss_fn(yhat, y_train_tensor)
        # ❸ gradients
        loss.backward()
        # ❹ update
        optimizer.step()
        optimizer.zero_grad()
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("module", trajectory, data, seconds, state_dict=_state_dict_lists(model))


# ---------------------------------------------------------------------------------------------------
# Step 5 — the model built from a PyTorch layer


class LayerLinearRegression(nn.Module):
    """y = a + b·x as one ``nn.Linear(1, 1)`` layer: its bias is a, its weight is b."""

    def __init__(self) -> None:
        super().__init__()
        # Instead of our custom parameters, a Linear layer with a single input and a single output
        self.linear = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Now it only takes a call to the layer to make predictions
        return self.linear(x)


def fit_layer(
    data: RegressionData,
    *,
    epochs: int = 1000,
    lr: float = 0.1,
    seed: int = 42,
    initial: tuple[float, float] | None = None,
) -> FitResult:
    """Train :class:`LayerLinearRegression`; its ``state_dict()`` holds ``linear.weight`` and ``linear.bias``.

    With ``torch.manual_seed(42)`` nn.Linear draws its own initial weight and bias (uniform, as its
    ``reset_parameters`` does), so this method starts from another point than steps 1–4.
    """
    x_train_tensor, y_train_tensor = to_tensors(data)
    with torch_seed(seed):
        model = LayerLinearRegression()
    if initial is not None:
        with torch.no_grad():
            model.linear.bias.fill_(initial[0])
            model.linear.weight.fill_(initial[1])
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=lr)
    a, b = model.linear.bias, model.linear.weight  # the a and b of y = a + b·x
    trajectory = [(a.item(), b.item())]
    start = time.perf_counter()
    for _epoch in range(epochs):
        model.train()
        # ❶ forward pass
        yhat = model(x_train_tensor)
        # ❷ loss
        loss = loss_fn(yhat, y_train_tensor)
        # ❸ gradients
        loss.backward()
        # ❹ update
        optimizer.step()
        optimizer.zero_grad()
        trajectory.append((a.item(), b.item()))
    seconds = time.perf_counter() - start
    return make_result("layer", trajectory, data, seconds, state_dict=_state_dict_lists(model))
