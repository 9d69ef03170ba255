"""The checks of TP1 (``notebooks/03_tp1_fashion_mnist.ipynb``), run *inside* the student's kernel.

``drlab check tp1`` (:mod:`drlab.check.runner`) executes the student's notebook in a fresh Jupyter
kernel, then appends one cell that calls :func:`report_to_grader`. The checks therefore run where the
student's objects live, and what goes back to the grader is one line of JSON — never a pickle, never an
object of the student's.

The contract, stated in the notebook — what the student defines:

- ``class Net(nn.Module)``, built as ``Net()``, mapping images ``(B, 1, 28, 28)`` to ``(B, 10)`` *logits*
  (scores before the softmax: ``nn.CrossEntropyLoss`` applies log-softmax itself);
- ``train_one_epoch(model, batches, optimizer, loss_fn) -> float``: one epoch ("époque") of the lecture's
  four steps over ``batches`` (an iterable of ``(x_batch, y_batch)``), returning the mean batch loss;
- ``evaluate(model, x, y) -> float``: the accuracy of ``model`` on ``(x, y)``, a fraction in [0, 1];
- ``model``, the trained ``Net``, and ``test_accuracy = evaluate(model, x_test, y_test)``.

Each check runs the student's function on a small *probe* network of the checker's own and compares
the result with the reference implementation below (the lecture's four steps), so the verdict is exact
whatever the student's ``Net``; a few known wrong variants (no ``zero_grad``, softmax before the loss…)
are computed too, to name the mistake in the hint. The trained ``model`` is measured on a test set the
checker loads itself (:func:`load_tp1_dataset`, the mirror of the notebook's data cell).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
import linecache
import math
import numbers
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from drlab.data.batches import Batches
from drlab.data.datasets import ImageDataset, load_digits

#: the line the check cell prints, followed by the run's nonce and the JSON payload
MARKER = "DRLAB-CHECK-RESULT"
IMAGE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
#: a sane model for TP1: more than a handful of weights, less than a laptop CPU can train in a session
PARAMETER_RANGE = (1_000, 5_000_000)
#: test accuracy to beat with the full budget; the solution's CNN reaches ≥ 0.92 on Fashion-MNIST
MIN_TEST_ACCURACY = {"fashion-mnist": 0.85, "digits": 0.95}
#: with the tiny budget (CI, a quick look) the bar is only "clearly better than chance" (0.1)
TINY_MIN_TEST_ACCURACY = 0.4
#: training and test samples kept by the tiny budget (``DRLAB_NOTEBOOK_BUDGET=tiny``)
TINY_SAMPLES = 600
BUDGETS = ("full", "tiny")
BUDGET_VARIABLE = "DRLAB_NOTEBOOK_BUDGET"
#: time limit of one check (each calls the student's code once or a few times)
CHECK_SECONDS = 60.0
#: where the notebook asks for each name, for the hints
WHERE = {
    "Net": "the cell marked TODO 1",
    "train_one_epoch": "the cell marked TODO 2",
    "evaluate": "the cell marked TODO 3",
    "model": "the training cell (run it after TODO 1–3)",
    "test_accuracy": "the training cell (run it after TODO 1–3)",
}


# --------------------------------------------------------------------------------------------------
# The data, as the notebook loads it


def budget_from_env() -> str:
    """The notebook's budget: ``full`` (default) or ``tiny`` (CI), from ``$DRLAB_NOTEBOOK_BUDGET``."""
    budget = os.environ.get(BUDGET_VARIABLE, "full").strip().lower() or "full"
    if budget not in BUDGETS:
        raise ValueError(f"{BUDGET_VARIABLE}={budget!r}: choose from {', '.join(BUDGETS)}")
    return budget


def digits_28x28(images: np.ndarray) -> np.ndarray:
    """Enlarge 8×8 digits to 28×28: each pixel repeated 3×3 (24×24), then a 2-pixel black border."""
    enlarged = images.repeat(3, axis=1).repeat(3, axis=2)
    return np.pad(enlarged, ((0, 0), (2, 2), (2, 2)))


def load_tp1_dataset(budget: str, *, download: bool = False) -> tuple[ImageDataset, str | None]:
    """The data TP1 trains on: Fashion-MNIST when it can be loaded, else the digits enlarged to 28×28.

    Mirrors the data cell of the TP1 notebooks (the tests keep them in agreement). Returns the dataset
    and, when Fashion-MNIST could not be used, the reason in one line (else ``None``). The checker
    never downloads: by the time it runs, the notebook has cached whatever it downloaded.
    """
    from drlab.common.errors import DrlabError

    reason: str | None = None
    try:
        from drlab.data import load_fashion_mnist

        dataset = load_fashion_mnist(download=download)
    except (ImportError, DrlabError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        digits = load_digits()
        dataset = dataclasses.replace(
            digits, x_train=digits_28x28(digits.x_train), x_test=digits_28x28(digits.x_test)
        )
    if budget == "tiny":
        dataset = dataset.limit(TINY_SAMPLES)
    return dataset, reason


def min_test_accuracy(dataset_name: str, budget: str) -> float:
    """The test accuracy the trained model must beat, for this dataset and budget."""
    if budget == "tiny":
        return TINY_MIN_TEST_ACCURACY
    return MIN_TEST_ACCURACY.get(dataset_name, MIN_TEST_ACCURACY["fashion-mnist"])


# --------------------------------------------------------------------------------------------------
# The reference: the lecture's four steps, and the accuracy


def reference_train_one_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    zero_grad: bool = True,
    softmax_first: bool = False,
    max_batches: int | None = None,
) -> float:
    """One epoch of the four steps; returns the mean batch loss.

    ``zero_grad=False``, ``softmax_first=True`` and ``max_batches`` give the classic mistakes, so that
    a hint can say which one a student's result matches.
    """
    model.train()  # dropout and batch norm in their training behaviour
    losses: list[float] = []
    for x_batch, y_batch in batches:
        if max_batches is not None and len(losses) >= max_batches:
            break
        logits = model(x_batch)  # 1. forward pass ("passe avant")
        if softmax_first:
            logits = torch.softmax(logits, dim=1)
        loss = loss_fn(logits, y_batch)  # 2. loss
        loss.backward()  # 3. gradients, added into each parameter's .grad
        optimizer.step()  # 4. update: θ ← θ − η ∇θ
        if zero_grad:
            optimizer.zero_grad()  # .grad accumulates: start the next batch from zero
        losses.append(loss.item())
    return sum(losses) / len(losses)


def reference_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``(x, y)`` that ``model`` classifies right, in eval mode, without autograd."""
    model.eval()  # dropout off, batch norm on its running statistics
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            logits = model(x[start : start + batch_size])
            correct += int((logits.argmax(dim=1) == y[start : start + batch_size]).sum().item())
    return correct / len(y)


class ProbeNet(nn.Module):
    """The checker's own small CNN, trained and evaluated with the student's functions."""

    def __init__(self, dropout: float = 0.0, batch_norm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=4, stride=4)  # 28×28 → 7×7
        self.norm: nn.Module = nn.BatchNorm2d(4) if batch_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(4 * 7 * 7, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.relu(self.norm(self.conv(x))).flatten(1)
        return self.linear(self.dropout(features))


class ForwardSpy:
    """Records, at each forward call of a model, its mode (any sub-module training?) and autograd's state."""

    def __init__(self, model: nn.Module) -> None:
        self.calls: list[tuple[bool, bool]] = []
        self._handle = model.register_forward_pre_hook(self._record)

    def _record(self, module: nn.Module, inputs: Any) -> None:
        training = any(m.training for m in module.modules())
        self.calls.append((training, torch.is_grad_enabled()))

    def remove(self) -> None:
        self._handle.remove()


# --------------------------------------------------------------------------------------------------
# Calling the student's code safely: a time limit, captured prints, one-line errors


class CheckTimeout(BaseException):
    """Raised in a student's function past its time limit (a BaseException: ``except Exception`` won't hide it)."""


class StudentError(Exception):
    """The student's code raised or ran too long; the message says so in one line."""


class Failed(Exception):
    """A check failed; the message is the hint shown to the student."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with :class:`CheckTimeout` (POSIX main thread; else no limit)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds <= 0 or not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:  # someone else's alarm (pytest-timeout…) was pending: set it again
            left = outer_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)


def describe_exception(exc: BaseException) -> str:
    """``Type: first line of the message``, plus the student's line where it happened when we can find it."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if len(first) > 240:
        first = first[:237] + "…"
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if (
            "site-packages" in name
            or name.startswith(os.path.dirname(__file__))
            or name.startswith("<frozen")
        ):
            continue
        line = (frame.line or linecache.getline(name, frame.lineno or 0)).strip()
        if line and not (first and first in line):  # `raise X("message")` would only repeat the message
            where = f" (in {frame.name}, at `{line[:100]}`)"
        break
    return f"{type(exc).__name__}: {first}{where}" if first else f"{type(exc).__name__}{where}"


def call_student(label: str, function: Callable[..., Any], *args: Any, seconds: float) -> Any:
    """Call the student's ``function(*args)`` with a time limit and its prints captured."""
    captured = io.StringIO()
    try:
        with time_limit(seconds), contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            return function(*args)
    except CheckTimeout:
        raise StudentError(f"{label} did not return within {seconds:g} s (an endless loop?)") from None
    except Exception as exc:
        raise StudentError(f"{label} raised {describe_exception(exc)}") from exc


# --------------------------------------------------------------------------------------------------
# The checks


@dataclass
class CheckResult:
    """One line of the report: ✓ or ✗, the title, and a message (the hint when it failed)."""

    id: str
    title: str
    passed: bool
    message: str = ""


@dataclass
class Context:
    """What the checks share: the student's namespace, the settings, and results computed once."""

    namespace: Mapping[str, Any]
    seed: int
    budget: str
    seconds: float
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    cache: dict[str, Any] = field(default_factory=dict)

    def lookup(self, name: str) -> Any:
        if name not in self.namespace:
            raise Failed(f"`{name}` is not defined: write it in {WHERE.get(name, 'the notebook')}")
        return self.namespace[name]

    def function(self, name: str) -> Callable[..., Any]:
        value = self.lookup(name)
        if not callable(value):
            raise Failed(f"`{name}` should be a function, found {type(value).__name__}")
        return value

    def generator(self, offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 7919 + offset)

    def images(self, n: int, offset: int) -> torch.Tensor:
        return torch.randn(n, *IMAGE_SHAPE, generator=self.generator(offset)).to(self.device)

    def labels(self, n: int, offset: int) -> torch.Tensor:
        return torch.randint(0, NUM_CLASSES, (n,), generator=self.generator(offset)).to(self.device)

    def probe(self, offset: int, **kwargs: Any) -> ProbeNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 7919 + offset)
            return ProbeNet(**kwargs).to(self.device)


Check = Callable[[Context], str]
CHECKS: list[tuple[str, str, Check]] = []


def check(check_id: str, title: str) -> Callable[[Check], Check]:
    """Register a check: it returns the message of a pass, or raises :class:`Failed` with a hint."""

    def register(function: Check) -> Check:
        CHECKS.append((check_id, title, function))
        return function

    return register


def _student_net(ctx: Context) -> tuple[nn.Module, torch.Tensor]:
    """``Net()`` and its output on 5 images, computed once for the three checks of Net."""
    if "net" not in ctx.cache:
        ctx.cache["net"] = None
        net_class = ctx.lookup("Net")
        if not (isinstance(net_class, type) and issubclass(net_class, nn.Module)):
            raise Failed("`Net` must be a class that inherits from nn.Module: `class Net(nn.Module): …`")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed)
            try:
                net = call_student("Net()", net_class, seconds=ctx.seconds)
            except StudentError as exc:
                hint = " (Net() must work without arguments: give every argument a default)"
                raise Failed(str(exc) + (hint if "argument" in str(exc) else "")) from None
        net = net.to(ctx.device)
        x = ctx.images(5, offset=1)
        try:
            with torch.no_grad():
                output = call_student(
                    "Net()(x) on a batch of shape (5, 1, 28, 28)", net, x, seconds=ctx.seconds
                )
        except StudentError as exc:
            message = str(exc)
            if "shape" in message or "size" in message:
                message += (
                    ". The model receives images (B, 1, 28, 28): flatten them inside forward "
                    "(nn.Flatten() or x.flatten(1)) before the first nn.Linear, which then takes 28·28 = 784 inputs"
                )
            raise Failed(message) from None
        ctx.cache["net"] = (net, output)
    if ctx.cache["net"] is None:
        raise Failed("needs a working `Net` (see the first check)")
    return ctx.cache["net"]


@check("net_output", "Net() maps a batch (B, 1, 28, 28) to (B, 10) logits")
def check_net_output(ctx: Context) -> str:
    _, output = _student_net(ctx)
    if not isinstance(output, torch.Tensor):
        raise Failed(f"forward returned {type(output).__name__}; it must return a tensor of logits")
    shape = tuple(output.shape)
    if shape == (5, NUM_CLASSES):
        return "a batch of 5 images gives (5, 10)"
    if len(shape) == 2 and shape[0] == 5:
        raise Failed(
            f"a batch of 5 images gives {shape}: {shape[1]} outputs per image, but TP1 has 10 classes. "
            "The last layer must be nn.Linear(…, 10): one score (logit) per class"
        )
    raise Failed(
        f"a batch of 5 images gives {shape}, expected (5, 10): one row per image, one logit per class. "
        "Flatten the images first (nn.Flatten()) and end with nn.Linear(…, 10)"
    )


@check("net_logits", "Net returns logits, not probabilities (no softmax before CrossEntropyLoss)")
def check_net_logits(ctx: Context) -> str:
    _, output = _student_net(ctx)
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or not output.is_floating_point():
        raise Failed("needs Net's output to be a (B, 10) tensor (see the first check)")
    rows = output.detach().float()
    if bool((rows >= 0).all()) and bool(
        torch.allclose(rows.sum(dim=1), torch.ones(len(rows)).to(rows), atol=1e-4)
    ):
        raise Failed(
            "Net's outputs are probabilities (every row is ≥ 0 and sums to 1): forward ends with a softmax. "
            "nn.CrossEntropyLoss applies log-softmax itself, so a softmax before it flattens the gradients "
            "and learning crawls. Return the raw scores of the last nn.Linear; use torch.softmax only to "
            "display probabilities"
        )
    return "raw scores, as CrossEntropyLoss expects"


@check("net_size", f"Net has a sane number of parameters ({PARAMETER_RANGE[0]:,} to {PARAMETER_RANGE[1]:,})")
def check_net_size(ctx: Context) -> str:
    net, _ = _student_net(ctx)
    count = sum(p.numel() for p in net.parameters() if p.requires_grad)
    low, high = PARAMETER_RANGE
    if count < low:
        raise Failed(
            f"Net has {count:,} trainable parameters: even softmax regression (one nn.Linear(784, 10)) has "
            "7,850. Layers must be attributes of the module (self.fc1 = nn.Linear(…)) or in an "
            "nn.Sequential / nn.ModuleList — a plain Python list hides them from .parameters()"
        )
    if count > high:
        raise Failed(
            f"Net has {count:,} trainable parameters: too many to train on a laptop CPU during a TP. "
            "Shrink the hidden layers (a 784-256-128-10 MLP has 235k; a small CNN 100k–500k)"
        )
    return f"{count:,} parameters"


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _max_difference(first: list[torch.Tensor], second: list[torch.Tensor]) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(first, second, strict=True))


def _same(first: list[torch.Tensor], second: list[torch.Tensor]) -> bool:
    return all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(first, second, strict=True))


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(x), y))


@check("train_lowers_loss", "train_one_epoch lowers the loss on a fixed batch")
def check_train_lowers_loss(ctx: Context) -> str:
    train_one_epoch = ctx.function("train_one_epoch")
    probe = ctx.probe(offset=10)
    x, y = ctx.images(32, offset=11), ctx.labels(32, offset=12)
    batches = Batches(x, y, batch_size=32, shuffle=False, device=ctx.device)
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    before, start = _loss(probe, x, y), _params(probe)
    try:
        for _ in range(3):
            call_student(
                "train_one_epoch(model, batches, optimizer, loss_fn)",
                train_one_epoch, probe, batches, optimizer, loss_fn, seconds=ctx.seconds,
            )  # fmt: skip
    except StudentError as exc:
        raise Failed(str(exc)) from None
    if _same(start, _params(probe)):
        raise Failed(
            "the parameters of the model it was given did not change: train the `model` and `optimizer` "
            "passed as arguments (not global ones), and call optimizer.step() after loss.backward()"
        )
    after = _loss(probe, x, y)
    if not after < 0.98 * before:
        raise Failed(
            f"3 epochs on one fixed batch took the loss from {before:.3f} to {after:.3f}; it should fall. "
            "Check the four steps: forward, loss, loss.backward(), optimizer.step()"
        )
    return f"loss {before:.3f} → {after:.3f} in 3 epochs on one batch"


@check("train_zero_grad", "train_one_epoch zeroes the gradients: two batches give the reference update")
def check_train_zero_grad(ctx: Context) -> str:
    train_one_epoch = ctx.function("train_one_epoch")
    base = ctx.probe(offset=20)
    x, y = ctx.images(32, offset=21), ctx.labels(32, offset=22)
    batches = Batches(x, y, batch_size=16, shuffle=False, device=ctx.device)

    def run(**mistake: Any) -> tuple[list[torch.Tensor], float]:
        model = copy.deepcopy(base)
        returned = reference_train_one_epoch(
            model, batches, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), **mistake
        )
        return _params(model), returned

    reference, reference_loss = run()
    ctx.cache["reference_losses"] = {
        "mean": reference_loss,
        "first": run(max_batches=1)[1],
    }
    student = copy.deepcopy(base)
    start = _params(student)
    try:
        returned = call_student(
            "train_one_epoch(model, batches, optimizer, loss_fn)", train_one_epoch,
            student, batches, torch.optim.SGD(student.parameters(), lr=0.1), nn.CrossEntropyLoss(),
            seconds=ctx.seconds,
        )  # fmt: skip
    except StudentError as exc:
        ctx.cache["returned"] = exc
        raise Failed(str(exc)) from None
    ctx.cache["returned"] = returned
    result = _params(student)
    if _same(result, reference):
        return "2 batches, SGD: same parameters as the reference (forward, loss, backward, step, zero_grad)"
    if _same(result, start):
        raise Failed(
            "the parameters of the model it was given did not change: train the `model` and `optimizer` "
            "passed as arguments, call optimizer.step() after loss.backward(), and do not zero the "
            "gradients between backward() and step()"
        )
    if _same(result, run(zero_grad=False)[0]):
        raise Failed(
            "the gradients accumulated: the second step used the sum of both batches' gradients. PyTorch "
            "*adds* each backward() into .grad (« les gradients s'accumulent »): call optimizer.zero_grad() "
            "at every batch, before loss.backward() (or after optimizer.step())"
        )
    if _same(result, run(softmax_first=True)[0]):
        raise Failed(
            "the update is the one of a loss computed on softmax probabilities: pass the logits straight to "
            "loss_fn — nn.CrossEntropyLoss applies log-softmax itself"
        )
    if _same(result, run(max_batches=1)[0]):
        raise Failed("only the first batch was used: loop over every (x_batch, y_batch) in batches")
    raise Failed(
        f"after one epoch of 2 batches (SGD, lr 0.1) the parameters differ from the reference's by up to "
        f"{_max_difference(result, reference):.2g}: each batch must do exactly one forward, loss, "
        "loss.backward(), optimizer.step(), with the gradients zeroed at every batch"
    )


@check("train_returns_loss", "train_one_epoch returns the epoch's mean loss as a float")
def check_train_returns_loss(ctx: Context) -> str:
    if "returned" not in ctx.cache:
        raise Failed("needs train_one_epoch to run (see the check above)")
    returned = ctx.cache["returned"]
    if isinstance(returned, StudentError):
        raise Failed("needs train_one_epoch to run (see the check above)")
    if isinstance(returned, torch.Tensor):
        raise Failed(
            "it returns a tensor: return a Python float. Add up loss.item() over the batches (keeping the "
            "loss tensors would also keep every batch's graph in memory)"
        )
    if isinstance(returned, bool) or not isinstance(returned, numbers.Real):
        raise Failed(f"it returns {type(returned).__name__}: return the mean loss of the epoch, a float")
    value, losses = float(returned), ctx.cache["reference_losses"]
    if not math.isfinite(value):
        raise Failed(f"it returns {value}: the loss must be a finite number")

    def near(target: float) -> bool:
        return math.isclose(value, target, rel_tol=1e-4, abs_tol=1e-6)

    if near(losses["mean"]):
        return f"{value:.4f}, the mean of the batch losses"
    if near(2 * losses["mean"]):
        raise Failed("it returns the sum of the batch losses: divide by the number of batches")
    second = 2 * losses["mean"] - losses["first"]
    if near(second):
        raise Failed("it returns the last batch's loss: return the mean over all the batches of the epoch")
    raise Failed(
        f"it returns {value:.4f}, but the mean of the epoch's batch losses is {losses['mean']:.4f}: "
        "return the average of loss.item() over the batches"
    )


@check("train_mode", "train_one_epoch puts the model in training mode (model.train())")
def check_train_mode(ctx: Context) -> str:
    train_one_epoch = ctx.function("train_one_epoch")
    probe = ctx.probe(offset=30, dropout=0.5)
    probe.eval()  # as evaluate() leaves it after each epoch
    x, y = ctx.images(16, offset=31), ctx.labels(16, offset=32)
    batches = Batches(x, y, batch_size=16, shuffle=False, device=ctx.device)
    spy = ForwardSpy(probe)
    try:
        call_student(
            "train_one_epoch(model, batches, optimizer, loss_fn)", train_one_epoch,
            probe, batches, torch.optim.SGD(probe.parameters(), lr=0.01), nn.CrossEntropyLoss(),
            seconds=ctx.seconds,
        )  # fmt: skip
    except StudentError as exc:
        raise Failed(str(exc)) from None
    finally:
        spy.remove()
    if not spy.calls:
        raise Failed("train_one_epoch never called the model it was given: compute model(x_batch)")
    if not all(training for training, _ in spy.calls):
        raise Failed(
            "the model stayed in evaluation mode while training: call model.train() at the start of "
            "train_one_epoch. evaluate() switches it to eval mode, so without it dropout and batch norm "
            "would stay off for every epoch after the first"
        )
    return "model.train() before the forward passes"


def _evaluate_probe(ctx: Context) -> dict[str, Any]:
    """Run the student's ``evaluate`` once on a dropout + batch-norm probe and held-out data of ours."""
    if "evaluate" not in ctx.cache:
        evaluate = ctx.function("evaluate")
        probe = ctx.probe(offset=40, dropout=0.5, batch_norm=True)
        x = ctx.images(64, offset=41)
        with torch.no_grad():
            predicted = probe.eval()(x).argmax(dim=1)
        # 40 of the 64 labels agree with the probe's eval-mode predictions: the exact accuracy is 0.625
        shift = torch.randint(1, NUM_CLASSES, (64,), generator=ctx.generator(42)).to(ctx.device)
        y = torch.where(
            torch.arange(64, device=ctx.device) < 40, predicted, (predicted + shift) % NUM_CLASSES
        )
        probe.train()  # as train_one_epoch leaves it
        spy = ForwardSpy(probe)
        try:
            returned: Any = call_student("evaluate(model, x, y)", evaluate, probe, x, y, seconds=ctx.seconds)
            error = None
        except StudentError as exc:
            returned, error = None, str(exc)
        finally:
            spy.remove()
        ctx.cache["evaluate"] = {
            "returned": returned,
            "error": error,
            "calls": spy.calls,
            "reference": 40 / 64,
        }
    outcome: dict[str, Any] = ctx.cache["evaluate"]
    if outcome["error"] is not None:
        raise Failed(outcome["error"])
    if not outcome["calls"]:
        raise Failed("evaluate never called the model it was given: compute model(x) on the x it receives")
    return outcome


@check("eval_mode", "evaluate puts the model in evaluation mode (model.eval())")
def check_eval_mode(ctx: Context) -> str:
    outcome = _evaluate_probe(ctx)
    if any(training for training, _ in outcome["calls"]):
        raise Failed(
            "the model was in training mode: call model.eval() before predicting. In training mode dropout "
            "drops random units and batch norm uses the batch's own statistics, so the accuracy comes out "
            "noisy and wrong"
        )
    return "model.eval() before the forward pass"


@check("eval_no_grad", "evaluate turns gradient tracking off (torch.no_grad())")
def check_eval_no_grad(ctx: Context) -> str:
    outcome = _evaluate_probe(ctx)
    if any(grad_enabled for _, grad_enabled in outcome["calls"]):
        raise Failed(
            "autograd recorded the forward pass: wrap the predictions in `with torch.no_grad():`. "
            "Evaluation needs no gradients, and the graph costs memory and time"
        )
    return "no graph built"


@check("eval_accuracy", "evaluate returns the accuracy on the data it is given")
def check_eval_accuracy(ctx: Context) -> str:
    outcome = _evaluate_probe(ctx)
    returned, reference = outcome["returned"], outcome["reference"]
    if isinstance(returned, torch.Tensor) and returned.numel() == 1:
        value, tip = float(returned), " (tip: return .item(), a Python float, rather than a tensor)"
    elif isinstance(returned, numbers.Real) and not isinstance(returned, bool):
        value, tip = float(returned), ""
    else:
        raise Failed(f"it returns {type(returned).__name__}: return the accuracy, a float in [0, 1]")
    if math.isclose(value, reference, abs_tol=1e-6):
        return f"{value:.4f} on 64 held-out images of the checker, as the reference{tip}"
    if math.isclose(value, 100 * reference, abs_tol=1e-4):
        raise Failed(f"it returns {value:g}, a percentage: return a fraction in [0, 1] ({reference})")
    if math.isclose(value, 1 - reference, abs_tol=1e-6):
        raise Failed(
            "it returns the error rate (the fraction of mistakes): return the fraction of right answers"
        )
    trained_mode = any(training for training, _ in outcome["calls"])
    cause = (
        " — the model was in training mode (see above), so dropout changed its predictions"
        if trained_mode
        else ". Measure the model on the x and y passed as arguments: using the training tensors (a global "
        "such as x_train) measures how well the model memorised, not how well it generalises"
    )
    raise Failed(
        f"on 64 held-out images of the checker it returns {value:.4f}, but the model gets {reference:.4f} "
        f"right{cause}"
    )


def _test_measurement(ctx: Context) -> dict[str, Any]:
    """The trained ``model`` measured on the test split, loaded by the checker as the notebook does."""
    if "test" not in ctx.cache:
        ctx.cache["test"] = None
        model = ctx.lookup("model")
        if not isinstance(model, nn.Module):
            raise Failed(f"`model` should be the trained Net (an nn.Module), found {type(model).__name__}")
        dataset, reason = load_tp1_dataset(ctx.budget)
        test = Batches(
            dataset.x_test, dataset.y_test, batch_size=1000, mean=dataset.mean, std=dataset.std,
            shuffle=False, device=ctx.device,
        )  # fmt: skip
        was_training = model.training
        try:
            with time_limit(ctx.seconds):
                accuracy = reference_accuracy(model, test.x, test.y)
        except CheckTimeout:
            raise Failed(f"measuring `model` on the test set took more than {ctx.seconds:g} s") from None
        except Exception as exc:
            raise Failed(f"`model` failed on the test images: {describe_exception(exc)}") from None
        finally:
            model.train(was_training)
        ctx.cache["test"] = {
            "dataset": dataset.name,
            "reason": reason,
            "size": len(dataset.y_test),
            "accuracy": accuracy,
            "threshold": min_test_accuracy(dataset.name, ctx.budget),
        }
    if ctx.cache["test"] is None:
        raise Failed("needs the trained `model` (see the check above)")
    return ctx.cache["test"]


@check("model_accuracy", "the trained model beats the stated accuracy on the test set")
def check_model_accuracy(ctx: Context) -> str:
    test = _test_measurement(ctx)
    accuracy, threshold = test["accuracy"], test["threshold"]
    where = f"the {test['dataset']} test set ({test['size']:,} images)"
    if accuracy > threshold:
        return f"{accuracy:.4f} on {where}, above {threshold}"
    raise Failed(
        f"`model` gets {accuracy:.4f} on {where}, which does not beat {threshold}: train for more epochs, "
        "tune the learning rate, or try a CNN (the solution's reaches 0.92 on Fashion-MNIST)"
    )


@check("reported_accuracy", "test_accuracy is the trained model's accuracy on the test set")
def check_reported_accuracy(ctx: Context) -> str:
    test = _test_measurement(ctx)
    reported = ctx.lookup("test_accuracy")
    if isinstance(reported, torch.Tensor) and reported.numel() == 1:
        reported = float(reported)
    if isinstance(reported, bool) or not isinstance(reported, numbers.Real):
        raise Failed(f"`test_accuracy` should be a number, found {type(reported).__name__}")
    if abs(float(reported) - test["accuracy"]) <= 0.005:
        return f"{float(reported):.4f}, as measured by the checker"
    raise Failed(
        f"test_accuracy = {float(reported):.4f}, but `model` gets {test['accuracy']:.4f} on the test set: "
        "compute it with evaluate(model, x_test, y_test) after training — on the test split, not the "
        "training or validation data"
    )


#: the trained model is measured first: the other checks call the student's functions, which might
#: (wrongly) train the global `model` instead of the probe they are given
RUN_FIRST = ("model_accuracy", "reported_accuracy")


def run_checks(
    namespace: Mapping[str, Any],
    *,
    seed: int = 0,
    budget: str = "full",
    seconds: float = CHECK_SECONDS,
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Run every check against the names a notebook defined; returns the results (in report order)
    and facts for the report (dataset, measured test accuracy, threshold)."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    device = torch.device("cpu")
    model = namespace.get("model")
    if isinstance(model, nn.Module):
        parameter = next(model.parameters(), None)
        if parameter is not None:
            device = parameter.device
    ctx = Context(namespace, seed, budget, seconds, device)
    order = sorted(range(len(CHECKS)), key=lambda i: CHECKS[i][0] not in RUN_FIRST)
    results: dict[int, CheckResult] = {}
    for index in order:
        check_id, title, function = CHECKS[index]
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                results[index] = CheckResult(check_id, title, True, function(ctx))
        except Failed as failure:
            results[index] = CheckResult(check_id, title, False, str(failure))
        except Exception as exc:  # the student's objects can break a check in ways we did not foresee
            results[index] = CheckResult(check_id, title, False, f"could not run: {describe_exception(exc)}")
    facts: dict[str, Any] = {"budget": budget, "missing": [name for name in WHERE if name not in namespace]}
    if ctx.cache.get("test"):
        facts.update(
            dataset=ctx.cache["test"]["dataset"],
            test_accuracy=ctx.cache["test"]["accuracy"],
            threshold=ctx.cache["test"]["threshold"],
            fashion_mnist_missing=ctx.cache["test"]["reason"],
        )
    return [results[i] for i in range(len(CHECKS))], facts


def report_to_grader(
    namespace: Mapping[str, Any],
    *,
    nonce: str,
    seed: int = 0,
    budget: str = "full",
    seconds: float = CHECK_SECONDS,
) -> None:
    """Run the checks and print their results as one line: ``MARKER nonce {json}`` (the check cell)."""
    try:
        results, facts = run_checks(namespace, seed=seed, budget=budget, seconds=seconds)
        payload: dict[str, Any] = {"checks": [dataclasses.asdict(r) for r in results], **facts}
    except Exception as exc:  # never leave the grader without an answer
        payload = {"checks": [], "error": describe_exception(exc)}
    sys.stdout.write(f"{MARKER} {nonce} {json.dumps(payload)}\n")
    sys.stdout.flush()
