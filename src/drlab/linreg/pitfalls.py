"""Lecture §3 — the tensor basics and the traps of updating parameters, as functions you can run.

Each function replays a slide on the lecture's data and returns what happened (the values, the
exception raised) instead of printing it, so a test — or a student in a notebook — can look at it:

- :func:`tensor_basics` — ``view``, ``resize_``, in-place ``_`` methods, ``requires_grad_``, ``grad_fn``;
- :func:`slide_gradients` — the slide's ``dMSE/da tensor([-3.1019])`` next to the hand-derived value;
- :func:`reassign_parameter` — ``a = a - lr * a.grad`` loses the gradient (``AttributeError``);
- :func:`inplace_update_outside_no_grad` — ``a -= lr * a.grad`` outside ``no_grad`` (``RuntimeError``:
  an in-place change of a leaf that requires grad);
- :func:`gradients_accumulate` — two ``backward()`` without zeroing give twice the gradient;
- :func:`detach_parameter` — ``detach()``: no ``requires_grad``, no ``grad`` (but the same memory);
- :func:`numpy_bridge` — ``from_numpy`` / ``.numpy()`` share memory; ``.float()`` on float64 copies.
"""

# torch's stubs type Tensor.grad as optional; these replays read it right after backward()
# mypy: disable-error-code="operator,union-attr"

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from drlab.linreg.data import RegressionData, make_data
from drlab.linreg.numpy_gd import numpy_gradients
from drlab.linreg.torch_steps import to_tensors, torch_initial_parameters, torch_seed


def _lecture_data(data: RegressionData | None) -> RegressionData:
    return make_data() if data is None else data


@dataclass
class TensorBasics:
    """What the slides' tensor manipulations give."""

    view_shape: tuple[int, ...]
    """``x.view(1, -1)`` of a (3, 2) tensor: (1, 6)"""
    view_shares_memory: bool
    """a view is the same memory seen with another shape"""
    resized_shape: tuple[int, ...]
    """``x.resize_(2, 3)``: the trailing ``_`` changes x itself"""
    add_in_place_same_object: bool
    """``x.add_(1)`` returns x itself, modified"""
    add_out_of_place_same_object: bool
    """``x.add(1)`` returns a new tensor"""
    requires_grad_after_toggle: tuple[bool, bool]
    """a, b after ``a.requires_grad_(True)``, ``b.requires_grad_(False)``"""
    grad_fn_names: dict[str, str]
    """the operation that created yhat, error, error², loss"""


def tensor_basics(seed: int = 42, data: RegressionData | None = None) -> TensorBasics:
    """Replay the slides on tensor creation, reshaping, in-place methods and ``grad_fn``."""
    data = _lecture_data(data)
    with torch_seed(seed):
        x = torch.rand(3, 2)
    y = x.view(1, -1)
    view_shares = y.data_ptr() == x.data_ptr()
    x.resize_(2, 3)
    resized = tuple(x.shape)
    same_in_place = x.add_(1) is x
    same_out_of_place = x.add(1) is x

    a, b = torch_initial_parameters(seed)
    a.requires_grad_(True)
    b.requires_grad_(False)
    toggled = (a.requires_grad, b.requires_grad)
    b.requires_grad_(True)

    x_train_tensor, y_train_tensor = to_tensors(data)
    yhat = a + b * x_train_tensor
    error = y_train_tensor - yhat
    squared = error**2
    loss = squared.mean()
    names = {
        name: type(tensor.grad_fn).__name__
        for name, tensor in (("yhat", yhat), ("error", error), ("squared", squared), ("loss", loss))
    }
    return TensorBasics(
        tuple(y.shape), view_shares, resized, same_in_place, same_out_of_place, toggled, names
    )


@dataclass
class SlideGradients:
    """∂MSE/∂a and ∂MSE/∂b at the lecture's torch start, by autograd and by hand."""

    a: float
    """the starting a (torch.manual_seed(42): 0.3367)"""
    b: float
    """the starting b (0.1288)"""
    autograd: tuple[float, float]
    """``(a.grad, b.grad)`` after ``loss.backward()`` — the slide prints tensor([-3.1019]), tensor([-1.8132])"""
    by_hand: tuple[float, float]
    """−2·mean(error), −2·mean(x·error) in float64 NumPy at the same a, b"""
    a_after_update: float
    """a after one update in ``no_grad`` (the slide prints tensor([0.6469]))"""


def slide_gradients(seed: int = 42, lr: float = 0.1, data: RegressionData | None = None) -> SlideGradients:
    """One forward/backward at the slides' start, checked against the hand-derived gradients."""
    data = _lecture_data(data)
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = torch_initial_parameters(seed)
    loss = ((y_train_tensor - (a + b * x_train_tensor)) ** 2).mean()
    loss.backward()
    grads = (a.grad.item(), b.grad.item())
    by_hand = numpy_gradients(a.item(), b.item(), data.x_train, data.y_train)
    start = (a.item(), b.item())
    with torch.no_grad():
        a -= lr * a.grad
    return SlideGradients(start[0], start[1], grads, by_hand, a.item())


@dataclass
class ReassignOutcome:
    """``a = a - lr * a.grad``: the name a now points to a new, non-leaf tensor."""

    grad_before: float
    """a.grad after backward(), before the reassignment"""
    grad_after: torch.Tensor | None
    """the new a's .grad: None (PyTorch fills .grad only for leaves)"""
    is_leaf_after: bool
    """the new a is the result of an operation, no longer a leaf"""
    error: AttributeError
    """what ``a.grad.zero_()`` raises next: 'NoneType' object has no attribute 'zero_'"""


def reassign_parameter(
    seed: int = 42, lr: float = 0.1, data: RegressionData | None = None
) -> ReassignOutcome:
    """Replay the slide "Attention à ne pas perdre le gradient": reassigning a parameter."""
    data = _lecture_data(data)
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = torch_initial_parameters(seed)
    loss = ((y_train_tensor - (a + b * x_train_tensor)) ** 2).mean()
    loss.backward()
    grad_before = a.grad.item()
    a = a - lr * a.grad  # the pitfall: a new tensor, computed from a, bound to the same name
    with warnings.catch_warnings():
        # PyTorch warns when .grad of a non-leaf is read; here reading it is the point
        warnings.simplefilter("ignore", UserWarning)
        grad_after = a.grad
        try:
            a.grad.zero_()  # the lecture's next line
        except AttributeError as exc:
            error = exc
        else:  # pragma: no cover - would mean PyTorch changed this behaviour
            raise AssertionError("a.grad.zero_() did not raise after reassigning a")
    return ReassignOutcome(grad_before, grad_after, a.is_leaf, error)


@dataclass
class InplaceOutcome:
    """``a -= lr * a.grad`` outside and inside ``torch.no_grad()``."""

    error: RuntimeError
    """outside: 'a leaf Variable that requires grad is being used in an in-place operation.'

    The rule is about ``a`` alone: a leaf that requires grad may not be changed in place while autograd
    records. ``a = torch.randn(1, requires_grad=True); a -= 1.0`` raises it with no graph at all. (The
    other in-place error, "one of the variables needed for gradient computation has been modified by an
    inplace operation", comes from ``backward()`` when a tensor saved for the gradient was changed.)"""
    a_after_no_grad: float
    """inside no_grad the same line works: a = 0.3367 − 0.1·(−3.1019) = 0.6469"""


def inplace_update_outside_no_grad(
    seed: int = 42, lr: float = 0.1, data: RegressionData | None = None
) -> InplaceOutcome:
    """Replay the slide: an in-place update of a leaf that requires grad, outside then inside no_grad."""
    data = _lecture_data(data)
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = torch_initial_parameters(seed)
    loss = ((y_train_tensor - (a + b * x_train_tensor)) ** 2).mean()
    loss.backward()
    try:
        # the pitfall: a is a leaf that requires grad, and autograd refuses to change such a tensor in
        # place while it records (the rule holds before any forward pass; the graph plays no part)
        a -= lr * a.grad
    except RuntimeError as exc:
        error = exc
    else:  # pragma: no cover
        raise AssertionError("the in-place update outside no_grad did not raise")
    with torch.no_grad():
        a -= lr * a.grad
    return InplaceOutcome(error, a.item())


@dataclass
class AccumulationOutcome:
    """a.grad after one backward(), after a second one without zeroing, and after ``zero_()``."""

    first: float
    second: float
    """twice ``first``: backward() adds to .grad, it does not overwrite it"""
    after_zero: float


def gradients_accumulate(seed: int = 42, data: RegressionData | None = None) -> AccumulationOutcome:
    """Call backward() twice on the same loss without zeroing: the gradients add up."""
    data = _lecture_data(data)
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = torch_initial_parameters(seed)
    loss = ((y_train_tensor - (a + b * x_train_tensor)) ** 2).mean()
    loss.backward(retain_graph=True)  # keep the graph to walk it a second time
    first = a.grad.item()
    loss.backward()
    second = a.grad.item()
    a.grad.zero_()
    return AccumulationOutcome(first, second, a.grad.item())


@dataclass
class DetachOutcome:
    """``c = a.detach()``: the slide prints ``c tensor([0.6469]) False None``."""

    value: float
    requires_grad: bool
    grad: torch.Tensor | None
    shares_memory: bool
    """True: detach() is not a copy but a view outside the graph; use .clone() for a copy"""


def detach_parameter(seed: int = 42, lr: float = 0.1, data: RegressionData | None = None) -> DetachOutcome:
    """After one update, detach a from the graph and look at the result."""
    data = _lecture_data(data)
    x_train_tensor, y_train_tensor = to_tensors(data)
    a, b = torch_initial_parameters(seed)
    loss = ((y_train_tensor - (a + b * x_train_tensor)) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        a -= lr * a.grad
    c = a.detach()
    return DetachOutcome(c.item(), c.requires_grad, c.grad, c.data_ptr() == a.data_ptr())


@dataclass
class BridgeOutcome:
    """Which NumPy ↔ PyTorch conversions share memory (a change to one shows in the other)."""

    from_numpy_shares: bool
    """``torch.from_numpy(array)``: the tensor is the array's memory"""
    numpy_shares: bool
    """``tensor.numpy()``: the array is the tensor's memory"""
    float_cast_shares: bool
    """``torch.from_numpy(float64_array).float()``: False, the cast to float32 makes a copy"""


def numpy_bridge() -> BridgeOutcome:
    """Change one side of each conversion and look at the other side."""
    array = np.zeros(3)
    tensor = torch.from_numpy(array)
    array[0] = 1.0
    from_numpy_shares = tensor[0].item() == 1.0

    tensor = torch.zeros(3)
    array = tensor.numpy()
    tensor[0] = 1.0
    numpy_shares = array[0] == 1.0

    array = np.zeros(3)  # float64, as the lecture's x_train
    tensor = torch.from_numpy(array).float()
    array[0] = 1.0
    float_cast_shares = tensor[0].item() == 1.0
    return BridgeOutcome(from_numpy_shares, bool(numpy_shares), float_cast_shares)
