"""The checks of TP1 (``notebooks/03_tp1_fashion_mnist.ipynb``), decided in the grader's own process.

The notebook runs in a sandbox (:mod:`drlab.check.sandbox`); there, :mod:`drlab.check.harvest` calls the
student's code on inputs chosen here and sends back data only. Every verdict is computed here, against
the reference below and labels that never enter the sandbox:

- the *probes* (small networks of the grader's, :class:`~drlab.check.harvest.ProbeNet`) and their data
  are drawn from ``--seed``: a different seed, different weights, images and expected accuracy;
- the trained ``model`` must be an instance of the student's ``Net`` with a plausible number of
  weights; its logits are asked for on the test images in an order the grader shuffled, once as they
  are and once with 16 pixels of each moved by one grey level (invisible, but a model that looks the
  public test images up instead of classifying them fails). The labels stay here;
- a check whose data did not come back fails: the score is always out of the same 13.

The contract, stated in the notebook — what the student defines:

- ``class Net(nn.Module)``, built as ``Net()``, mapping images ``(B, 1, 28, 28)`` to ``(B, 10)`` *logits*;
- ``train_one_epoch(model, batches, optimizer, loss_fn) -> float``: one epoch ("époque") of the lecture's
  four steps over ``batches``, returning the mean batch loss;
- ``evaluate(model, x, y) -> float``: the accuracy of ``model`` on ``(x, y)``, a fraction in [0, 1];
- ``model``, the trained ``Net``, and ``test_accuracy = evaluate(model, x_test, y_test)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import nn

from drlab.check.harvest import PROBES, ProbeNet, probe_state
from drlab.check.report import CheckResult, printable
from drlab.data.tp1 import load_tp1_dataset

__all__ = ["CHECKS", "CHECK_IDS", "CheckResult", "Context", "Harvest", "Request", "build_request", "decide"]

IMAGE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10
#: a sane model for TP1: more than a handful of weights, less than a laptop CPU can train in a session
PARAMETER_RANGE = (1_000, 5_000_000)
#: test accuracy to beat with the full budget; the solution's CNN reaches ≥ 0.92 on Fashion-MNIST
MIN_TEST_ACCURACY = {"fashion-mnist": 0.85, "digits": 0.95}
#: with the tiny budget (CI, a quick look) the bar is only "clearly better than chance" (0.1)
TINY_MIN_TEST_ACCURACY = 0.4
#: time limit of one check's call into the student's code, by default
CHECK_SECONDS = 60.0
#: pixels of each test image moved by one grey level in the "noisy" copy
NOISE_PIXELS = 16
#: a classifier's accuracy moves less than this between the test images and their noisy copy
NOISE_TOLERANCE = 0.05
#: where the notebook asks for each name, for the hints
WHERE = {
    "Net": "the cell marked TODO 1",
    "train_one_epoch": "the cell marked TODO 2",
    "evaluate": "the cell marked TODO 3",
    "model": "the training cell (run it after TODO 1–3)",
    "test_accuracy": "the training cell (run it after TODO 1–3)",
}
NO_ANSWER = (
    "no answer came back from the notebook's sandbox for this check: it was stopped or ended before "
    "(see the first check)"
)


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


def reference_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``(x, y)`` that ``model`` classifies right, in eval mode, without autograd."""
    model.eval()  # dropout off, batch norm on its running statistics
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


# --------------------------------------------------------------------------------------------------
# What the grader sends, and what it keeps


@dataclass
class Request:
    """The inputs of one grading (the same for every notebook of a class), and what stays in the grader."""

    seed: int
    budget: str
    tensors: dict[str, torch.Tensor]
    """sent to the sandbox: probe weights and data, 5 images for Net, the test images (no labels)"""
    labels: dict[str, torch.Tensor]
    """kept: the labels of the two shuffled copies of the test images"""
    dataset: str
    fashion_mnist_missing: str | None
    evaluate_expected: float
    """the accuracy the evaluate probe really has on its data (drawn from the seed)"""


def _generator(seed: int, offset: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 7919 + offset)


def build_request(seed: int, budget: str) -> Request:
    """Draw the probes and their data from ``seed``; load the test set and shuffle two copies of it."""
    from drlab.data.batches import Batches

    tensors: dict[str, torch.Tensor] = {}
    for offset, name in enumerate(PROBES, start=1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 7919 + 100 * offset)
            probe = ProbeNet(**PROBES[name])
        tensors.update({f"probe.{name}.{key}": value.clone() for key, value in probe.state_dict().items()})
    sizes = {"lowers": 32, "zero_grad": 32, "train_mode": 16, "evaluate": 64}
    for offset, (name, size) in enumerate(sizes.items(), start=1):
        tensors[f"{name}.x"] = torch.randn(size, *IMAGE_SHAPE, generator=_generator(seed, 10 * offset))
        tensors[f"{name}.y"] = torch.randint(
            0, NUM_CLASSES, (size,), generator=_generator(seed, 10 * offset + 1)
        )
    tensors["net_x"] = torch.randn(5, *IMAGE_SHAPE, generator=_generator(seed, 1))

    # evaluate's probe: `right` of the 64 labels agree with its eval-mode predictions, `right` drawn from
    # the seed (never 32, where the accuracy and the error rate would be equal)
    probe = _probe(tensors, "evaluate")
    with torch.no_grad():
        predicted = probe.eval()(tensors["evaluate.x"]).argmax(dim=1)
    choices = [k for k in range(17, 48) if k != 32]
    right = choices[int(torch.randint(0, len(choices), (1,), generator=_generator(seed, 50)))]
    agree = torch.randperm(64, generator=_generator(seed, 51)) < right
    shift = torch.randint(1, NUM_CLASSES, (64,), generator=_generator(seed, 52))
    tensors["evaluate.y"] = torch.where(agree, predicted, (predicted + shift) % NUM_CLASSES)

    dataset, reason = load_tp1_dataset(budget)
    images = torch.as_tensor(dataset.x_test)
    labels: dict[str, torch.Tensor] = {}
    for offset, name in enumerate(("test_clean", "test_noisy"), start=60):
        order = torch.randperm(len(images), generator=_generator(seed, offset))
        shown = images[order].clone()
        if name == "test_noisy":
            shown = _one_grey_level(shown, _generator(seed, offset + 10))
        tensors[name] = Batches(
            shown, torch.zeros(len(shown)), batch_size=1000, mean=dataset.mean, std=dataset.std, shuffle=False
        ).x
        labels[name] = torch.as_tensor(dataset.y_test)[order]
    return Request(seed, budget, tensors, labels, dataset.name, reason, right / 64)


def _one_grey_level(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``NOISE_PIXELS`` pixels of each uint8 image moved by one grey level (towards the middle at 0 and 255)."""
    flat = images.reshape(len(images), -1).to(torch.int16)
    where = torch.rand(flat.shape, generator=generator).argsort(dim=1)[:, :NOISE_PIXELS]
    step = torch.where(torch.rand(where.shape, generator=generator) < 0.5, -1, 1).to(torch.int16)
    picked = flat.gather(1, where)
    step = torch.where(picked == 0, 1, torch.where(picked == 255, -1, step)).to(torch.int16)
    flat.scatter_(1, where, picked + step)
    return flat.to(torch.uint8).reshape(images.shape)


def _probe(tensors: Mapping[str, torch.Tensor], name: str) -> ProbeNet:
    probe = ProbeNet(**PROBES[name])
    probe.load_state_dict(probe_state(tensors, name))
    return probe


# --------------------------------------------------------------------------------------------------
# What came back: frames of data, read without trusting them


@dataclass
class Harvest:
    """The frames of one notebook, decoded: JSON data and tensors, per step (absent when not sent)."""

    frames: dict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]] = field(default_factory=dict)
    killed: bool = False
    """the sandbox was still running at its deadline"""
    exit_code: int | None = None
    notebook_seconds: float = 0.0
    cell_labels: dict[int, str] = field(default_factory=dict)
    """``cell 3 (`first line`)`` by cell index, for the messages"""

    @classmethod
    def decode(cls, frames: Mapping[str, Any], **kwargs: Any) -> Harvest:
        """Decode raw frames (:class:`~drlab.check.sandbox.Frame`); a frame whose tensors do not load is dropped."""
        from safetensors.torch import load

        decoded = {}
        for name, frame in frames.items():
            try:
                tensors = load(frame.tensors) if frame.tensors else {}
            except Exception:  # malformed safetensors from the sandbox: as if nothing came
                continue
            decoded[name] = (frame.data, tensors)
        return cls(decoded, **kwargs)

    def get(self, name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The frame ``name``, or :class:`Failed` when the sandbox never sent it."""
        if name not in self.frames:
            raise Failed(NO_ANSWER)
        return self.frames[name]


class Failed(Exception):
    """A check failed; the message is the hint shown to the student."""


def _message(data: Mapping[str, Any], key: str) -> str:
    return printable(str(data.get(key, "")))[:600]


def _number(value: Any) -> dict[str, Any]:
    """A returned value as the sandbox described it: ``{"kind", "type", "value"}``, checked."""
    if not isinstance(value, dict):
        return {"kind": "other", "type": "?", "value": None}
    number = value.get("value")
    return {
        "kind": value.get("kind") if value.get("kind") in ("real", "tensor", "bool", "other") else "other",
        "type": printable(str(value.get("type", "?")))[:60],
        "value": float(number) if isinstance(number, (int, float)) and not isinstance(number, bool) else None,
    }


def _calls(value: Any) -> list[tuple[bool, bool]]:
    if not isinstance(value, list):
        return []
    return [
        (item[0], item[1])
        for item in value[:10_000]
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, bool) for v in item)
    ]


def _parameters(tensors: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    keys = sorted(
        (key for key in tensors if key.startswith("param.")),
        key=lambda k: int(k[6:]) if k[6:].isdigit() else -1,
    )
    return [tensors[key] for key in keys]


def _same_shapes(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> bool:
    return len(first) == len(second) and all(
        a.shape == b.shape and a.is_floating_point() == b.is_floating_point()
        for a, b in zip(first, second, strict=False)
    )


def _same(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> bool:
    return _same_shapes(first, second) and all(
        torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-6)
        for a, b in zip(first, second, strict=True)
    )


def _max_difference(first: Sequence[torch.Tensor], second: Sequence[torch.Tensor]) -> float:
    return max(float((a.double() - b.double()).abs().max()) for a, b in zip(first, second, strict=True))


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# --------------------------------------------------------------------------------------------------
# The checks' shared knowledge: typed, computed once, on demand


@dataclass(frozen=True)
class NetOutcome:
    """``Net()`` as built in the sandbox: its output on 5 images, and how many trainable weights it has."""

    output: torch.Tensor | None
    output_type: str
    parameters: int


@dataclass(frozen=True)
class TrainOutcome:
    """The student's ``train_one_epoch`` on two batches (SGD), beside the reference and its classic mistakes."""

    parameters: list[torch.Tensor]
    returned: dict[str, Any]
    start: list[torch.Tensor]
    reference: list[torch.Tensor]
    mean_loss: float
    """the reference epoch's mean batch loss"""
    first_loss: float
    """the reference's first batch loss"""


@dataclass(frozen=True)
class EvaluateOutcome:
    """The student's ``evaluate`` on the grader's probe: what it returned, the model's mode at each call."""

    returned: dict[str, Any]
    calls: list[tuple[bool, bool]]
    expected: float


@dataclass(frozen=True)
class TestMeasurement:
    """The trained ``model`` measured by the grader, with its own labels."""

    dataset: str
    size: int
    accuracy: float
    """on the noisy copy of the test images (the bar)"""
    clean_accuracy: float
    """on the test images as they are (what the notebook's test_accuracy should equal)"""
    threshold: float


class Context:
    """What the checks share: the request, the harvest, and outcomes computed once, when first needed.

    Each outcome is a typed member; one that cannot be computed raises :class:`Failed` with the reason
    every check that needs it will show.
    """

    def __init__(self, request: Request, harvest: Harvest, *, notebook_timeout: float = 0.0) -> None:
        self.request = request
        self.harvest = harvest
        self.notebook_timeout = notebook_timeout

    def _frame(self, name: str, needs: str | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        data, tensors = self.harvest.get(name)
        missing = data.get("missing")
        if isinstance(missing, str) and missing in WHERE:
            raise Failed(f"`{missing}` is not defined: write it in {WHERE[missing]}")
        if isinstance(data.get("not_callable"), str):
            raise Failed(
                f"`{_message(data, 'not_callable')}` should be a function, found {_message(data, 'type')}"
            )
        if data.get("error"):
            raise Failed(_message(data, "error"))
        return data, tensors

    @cached_property
    def _student_net(self) -> NetOutcome | Failed:
        try:
            data, tensors = self.harvest.get("net")
            status = data.get("status")
            if status == "missing":
                raise Failed(f"`Net` is not defined: write it in {WHERE['Net']}")
            if status == "not-module":
                raise Failed("`Net` must be a class that inherits from nn.Module: `class Net(nn.Module): …`")
            if status == "init-error":
                message = _message(data, "error")
                hint = " (Net() must work without arguments: give every argument a default)"
                raise Failed(message + (hint if "argument" in message else ""))
            parameters = sum(t.numel() for t in _parameters(tensors))
            if status == "forward-error":
                message = _message(data, "error")
                if "shape" in message or "size" in message:
                    message += (
                        ". The model receives images (B, 1, 28, 28): flatten them inside forward "
                        "(nn.Flatten() or x.flatten(1)) before the first nn.Linear, which then takes 28·28 = 784 inputs"
                    )
                raise Failed(message)
            if status != "ok":
                raise Failed(NO_ANSWER)
            output = tensors.get("output")
            return NetOutcome(output, _number(data.get("output"))["type"], parameters)
        except Failed as failure:
            return failure

    def student_net(self) -> NetOutcome:
        """``Net()``: its output on 5 of the grader's images and its size (or why there is none)."""
        outcome = self._student_net
        if isinstance(outcome, Failed):
            raise outcome
        return outcome

    @cached_property
    def _train_outcome(self) -> TrainOutcome | Failed:
        try:
            data, tensors = self._frame("train_zero_grad")
            tensors_in = self.request.tensors
            x, y = tensors_in["zero_grad.x"], tensors_in["zero_grad.y"]
            batches = [(x[:16], y[:16]), (x[16:], y[16:])]
            reference, mean_loss = self._reference_run(batches)
            _, first_loss = self._reference_run(batches, max_batches=1)
            start = _params(_probe(tensors_in, "zero_grad"))
            parameters = _parameters(tensors)
            if not _same_shapes(parameters, start):
                raise Failed(
                    "the sandbox sent back weights of another shape than the probe's (malformed data)"
                )
            return TrainOutcome(
                parameters, _number(data.get("returned")), start, reference, mean_loss, first_loss
            )
        except Failed as failure:
            return failure

    def _reference_run(
        self, batches: list[tuple[torch.Tensor, torch.Tensor]], **mistake: Any
    ) -> tuple[list[torch.Tensor], float]:
        model = _probe(self.request.tensors, "zero_grad")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.request.seed)
            loss = reference_train_one_epoch(
                model, batches, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), **mistake
            )
        return _params(model), loss

    def train_outcome(self) -> TrainOutcome:
        """The student's one epoch on two batches, with the reference's (or why there is none)."""
        outcome = self._train_outcome
        if isinstance(outcome, Failed):
            raise outcome
        return outcome

    @cached_property
    def _evaluate_outcome(self) -> EvaluateOutcome | Failed:
        try:
            data, _ = self.harvest.get("evaluate")
            calls = _calls(data.get("calls"))
            self._frame("evaluate")
            if not calls:
                raise Failed(
                    "evaluate never called the model it was given: compute model(x) on the x it receives"
                )
            return EvaluateOutcome(_number(data.get("returned")), calls, self.request.evaluate_expected)
        except Failed as failure:
            return failure

    def evaluate_outcome(self) -> EvaluateOutcome:
        """The student's ``evaluate`` on the grader's probe (or why there is none)."""
        outcome = self._evaluate_outcome
        if isinstance(outcome, Failed):
            raise outcome
        return outcome

    @cached_property
    def _test_measurement(self) -> TestMeasurement | Failed:
        try:
            data, tensors = self.harvest.get("model")
            status = data.get("status")
            if status == "missing":
                raise Failed(f"`model` is not defined: write it in {WHERE['model']}")
            if status == "not-module":
                raise Failed(
                    f"`model` should be the trained Net (an nn.Module), found {_message(data, 'type')}"
                )
            if status == "error":
                raise Failed(_message(data, "error"))
            if data.get("is_net") is not True:
                raise Failed(
                    f"`model` is a {_message(data, 'type')}, not an instance of your Net: the training cell must "
                    "train model = Net()"
                )
            count = sum(t.numel() for t in _parameters(tensors))
            low, high = PARAMETER_RANGE
            if not low <= count <= high:
                raise Failed(f"`model` has {count:,} trainable parameters: a TP1 Net has {low:,} to {high:,}")
            accuracies = {}
            for name, labels in self.request.labels.items():
                logits = tensors.get(f"logits.{name}")
                if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(labels), NUM_CLASSES):
                    raise Failed(
                        f"`model` did not give (N, 10) logits for the {len(labels):,} test images "
                        f"(got {tuple(logits.shape) if isinstance(logits, torch.Tensor) else 'nothing'})"
                    )
                accuracies[name] = float((logits.float().argmax(dim=1) == labels).float().mean())
            return TestMeasurement(
                self.request.dataset, len(self.request.labels["test_clean"]), accuracies["test_noisy"],
                accuracies["test_clean"], min_test_accuracy(self.request.dataset, self.request.budget),
            )  # fmt: skip
        except Failed as failure:
            return failure

    def test_measurement(self) -> TestMeasurement:
        """The trained ``model`` measured on the test set with the grader's labels (or why it could not be)."""
        outcome = self._test_measurement
        if isinstance(outcome, Failed):
            raise outcome
        return outcome


# --------------------------------------------------------------------------------------------------
# The checks, in report order


Check = Callable[[Context], str]
CHECKS: list[tuple[str, str, Check]] = []


def check(check_id: str, title: str) -> Callable[[Check], Check]:
    """Register a check: it returns the message of a pass, or raises :class:`Failed` with a hint."""

    def register(function: Check) -> Check:
        CHECKS.append((check_id, title, function))
        return function

    return register


@check("runs", "the notebook runs top to bottom without errors")
def check_runs(ctx: Context) -> str:
    harvest = ctx.harvest
    if "cells" not in harvest.frames:
        if harvest.killed:
            raise Failed(
                f"the notebook was still running when its time was up ({ctx.notebook_timeout:g} s, and a minute "
                "to start): everything in its sandbox was stopped. An endless loop? A cell that ignores "
                "interrupts?"
            )
        raise Failed(
            f"the notebook's process ended before its cells were done (exit status {harvest.exit_code}): "
            "os._exit or sys.exit in a cell? out of memory? a crash in native code?"
        )
    data, _ = harvest.frames["cells"]
    timed_out = data.get("timed_out_at")
    if isinstance(timed_out, int) and not isinstance(timed_out, bool):
        where = harvest.cell_labels.get(timed_out, "a cell")
        raise Failed(
            f"the notebook did not finish within {ctx.notebook_timeout:g} s: {where} was still running when the "
            "time limit came (an endless loop? too many epochs for this budget?); the checks below ran on "
            "what was defined by then"
        )
    errors = (
        [e for e in data.get("errors", []) if isinstance(e, dict)]
        if isinstance(data.get("errors"), list)
        else []
    )
    if errors:
        first = errors[0]
        index = first.get("index")
        where = harvest.cell_labels.get(index, "a cell") if isinstance(index, int) else "a cell"
        line = first.get("line")
        at = f", line {line}" if isinstance(line, int) and not isinstance(line, bool) else ""
        value = _message(first, "evalue").splitlines()[0] if _message(first, "evalue") else ""
        more = len(errors) - 1
        tail = f" ({more} later cell{'s' if more > 1 else ''} failed too)" if more else ""
        raise Failed(
            f"{where}{at} raised {_message(first, 'ename')}" + (f": {value}" if value else "") + tail
        )
    seconds = data.get("seconds")
    return f"{seconds:.0f} s" if isinstance(seconds, (int, float)) and math.isfinite(seconds) else ""


@check("net_output", "Net() maps a batch (B, 1, 28, 28) to (B, 10) logits")
def check_net_output(ctx: Context) -> str:
    output = ctx.student_net().output
    if output is None:
        raise Failed(f"forward returned {ctx.student_net().output_type}; it must return a tensor of logits")
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
    output = ctx.student_net().output
    if output is None or output.ndim != 2 or not output.is_floating_point():
        raise Failed("needs Net's output to be a (B, 10) tensor (see the first check)")
    rows = output.float()
    if bool((rows >= 0).all()) and bool(torch.allclose(rows.sum(dim=1), torch.ones(len(rows)), atol=1e-4)):
        raise Failed(
            "Net's outputs are probabilities (every row is ≥ 0 and sums to 1): forward ends with a softmax. "
            "nn.CrossEntropyLoss applies log-softmax itself, so a softmax before it flattens the gradients "
            "and learning crawls. Return the raw scores of the last nn.Linear; use torch.softmax only to "
            "display probabilities"
        )
    return "raw scores, as CrossEntropyLoss expects"


@check("net_size", f"Net has a sane number of parameters ({PARAMETER_RANGE[0]:,} to {PARAMETER_RANGE[1]:,})")
def check_net_size(ctx: Context) -> str:
    count = ctx.student_net().parameters
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


def _probe_loss(
    tensors: Mapping[str, torch.Tensor], name: str, parameters: Sequence[torch.Tensor] | None
) -> float:
    probe = _probe(tensors, name)
    if parameters is not None:
        with torch.no_grad():
            for target, value in zip(probe.parameters(), parameters, strict=True):
                target.copy_(value)
    probe.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(probe(tensors[f"{name}.x"]), tensors[f"{name}.y"]))


@check("train_lowers_loss", "train_one_epoch lowers the loss on a fixed batch")
def check_train_lowers_loss(ctx: Context) -> str:
    _, tensors = ctx._frame("train_lowers")
    sent = ctx.request.tensors
    start = _params(_probe(sent, "lowers"))
    after_parameters = _parameters(tensors)
    if not _same_shapes(after_parameters, start):
        raise Failed("the sandbox sent back weights of another shape than the probe's (malformed data)")
    if _same(start, after_parameters):
        raise Failed(
            "the parameters of the model it was given did not change: train the `model` and `optimizer` "
            "passed as arguments (not global ones), and call optimizer.step() after loss.backward()"
        )
    before, after = _probe_loss(sent, "lowers", None), _probe_loss(sent, "lowers", after_parameters)
    if not after < 0.98 * before:
        raise Failed(
            f"3 epochs on one fixed batch took the loss from {before:.3f} to {after:.3f}; it should fall. "
            "Check the four steps: forward, loss, loss.backward(), optimizer.step()"
        )
    return f"loss {before:.3f} → {after:.3f} in 3 epochs on one batch"


@check("train_zero_grad", "train_one_epoch zeroes the gradients: two batches give the reference update")
def check_train_zero_grad(ctx: Context) -> str:
    outcome = ctx.train_outcome()
    result = outcome.parameters
    if _same(result, outcome.reference):
        return "2 batches, SGD: same parameters as the reference (forward, loss, backward, step, zero_grad)"
    if _same(result, outcome.start):
        raise Failed(
            "the parameters of the model it was given did not change: train the `model` and `optimizer` "
            "passed as arguments, call optimizer.step() after loss.backward(), and do not zero the "
            "gradients between backward() and step()"
        )
    x, y = ctx.request.tensors["zero_grad.x"], ctx.request.tensors["zero_grad.y"]
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    if _same(result, ctx._reference_run(batches, zero_grad=False)[0]):
        raise Failed(
            "the gradients accumulated: the second step used the sum of both batches' gradients. PyTorch "
            "*adds* each backward() into .grad (« les gradients s'accumulent »): call optimizer.zero_grad() "
            "at every batch, before loss.backward() (or after optimizer.step())"
        )
    if _same(result, ctx._reference_run(batches, softmax_first=True)[0]):
        raise Failed(
            "the update is the one of a loss computed on softmax probabilities: pass the logits straight to "
            "loss_fn — nn.CrossEntropyLoss applies log-softmax itself"
        )
    if _same(result, ctx._reference_run(batches, max_batches=1)[0]):
        raise Failed("only the first batch was used: loop over every (x_batch, y_batch) in batches")
    raise Failed(
        f"after one epoch of 2 batches (SGD, lr 0.1) the parameters differ from the reference's by up to "
        f"{_max_difference(result, outcome.reference):.2g}: each batch must do exactly one forward, loss, "
        "loss.backward(), optimizer.step(), with the gradients zeroed at every batch"
    )


@check("train_returns_loss", "train_one_epoch returns the epoch's mean loss as a float")
def check_train_returns_loss(ctx: Context) -> str:
    try:
        outcome = ctx.train_outcome()
    except Failed:
        raise Failed("needs train_one_epoch to run (see the check above)") from None
    returned = outcome.returned
    if returned["kind"] == "tensor":
        raise Failed(
            "it returns a tensor: return a Python float. Add up loss.item() over the batches (keeping the "
            "loss tensors would also keep every batch's graph in memory)"
        )
    if returned["kind"] != "real" or returned["value"] is None:
        raise Failed(f"it returns {returned['type']}: return the mean loss of the epoch, a float")
    value = returned["value"]
    if not math.isfinite(value):
        raise Failed(f"it returns {value}: the loss must be a finite number")

    def near(target: float) -> bool:
        return math.isclose(value, target, rel_tol=1e-4, abs_tol=1e-6)

    if near(outcome.mean_loss):
        return f"{value:.4f}, the mean of the batch losses"
    if near(2 * outcome.mean_loss):
        raise Failed("it returns the sum of the batch losses: divide by the number of batches")
    if near(2 * outcome.mean_loss - outcome.first_loss):
        raise Failed("it returns the last batch's loss: return the mean over all the batches of the epoch")
    raise Failed(
        f"it returns {value:.4f}, but the mean of the epoch's batch losses is {outcome.mean_loss:.4f}: "
        "return the average of loss.item() over the batches"
    )


@check("train_mode", "train_one_epoch puts the model in training mode (model.train())")
def check_train_mode(ctx: Context) -> str:
    data, _ = ctx._frame("train_mode")
    calls = _calls(data.get("calls"))
    if not calls:
        raise Failed("train_one_epoch never called the model it was given: compute model(x_batch)")
    if not all(training for training, _ in calls):
        raise Failed(
            "the model stayed in evaluation mode while training: call model.train() at the start of "
            "train_one_epoch. evaluate() switches it to eval mode, so without it dropout and batch norm "
            "would stay off for every epoch after the first"
        )
    return "model.train() before the forward passes"


@check("eval_mode", "evaluate puts the model in evaluation mode (model.eval())")
def check_eval_mode(ctx: Context) -> str:
    if any(training for training, _ in ctx.evaluate_outcome().calls):
        raise Failed(
            "the model was in training mode: call model.eval() before predicting. In training mode dropout "
            "drops random units and batch norm uses the batch's own statistics, so the accuracy comes out "
            "noisy and wrong"
        )
    return "model.eval() before the forward pass"


@check("eval_no_grad", "evaluate turns gradient tracking off (torch.no_grad())")
def check_eval_no_grad(ctx: Context) -> str:
    if any(grad_enabled for _, grad_enabled in ctx.evaluate_outcome().calls):
        raise Failed(
            "autograd recorded the forward pass: wrap the predictions in `with torch.no_grad():`. "
            "Evaluation needs no gradients, and the graph costs memory and time"
        )
    return "no graph built"


@check("eval_accuracy", "evaluate returns the accuracy on the data it is given")
def check_eval_accuracy(ctx: Context) -> str:
    outcome = ctx.evaluate_outcome()
    returned, reference = outcome.returned, outcome.expected
    tip = (
        " (tip: return .item(), a Python float, rather than a tensor)" if returned["kind"] == "tensor" else ""
    )
    if returned["kind"] not in ("real", "tensor") or returned["value"] is None:
        raise Failed(f"it returns {returned['type']}: return the accuracy, a float in [0, 1]")
    value = returned["value"]
    if math.isclose(value, reference, abs_tol=1e-6):
        return f"{value:.4f} on 64 held-out images of the checker, as the reference{tip}"
    if math.isclose(value, 100 * reference, abs_tol=1e-4):
        raise Failed(f"it returns {value:g}, a percentage: return a fraction in [0, 1] ({reference})")
    if math.isclose(value, 1 - reference, abs_tol=1e-6):
        raise Failed(
            "it returns the error rate (the fraction of mistakes): return the fraction of right answers"
        )
    trained_mode = any(training for training, _ in outcome.calls)
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


@check("model_accuracy", "the trained model beats the stated accuracy on the test set")
def check_model_accuracy(ctx: Context) -> str:
    test = ctx.test_measurement()
    where = f"the {test.dataset} test set ({test.size:,} images)"
    if test.clean_accuracy - test.accuracy > NOISE_TOLERANCE:
        raise Failed(
            f"`model` gets {test.clean_accuracy:.4f} on the test images but {test.accuracy:.4f} when "
            f"{NOISE_PIXELS} pixels of each move by one grey level (invisible to the eye): it recognises the "
            "exact test images instead of classifying them"
        )
    if test.accuracy > test.threshold:
        return f"{test.accuracy:.4f} on {where}, above {test.threshold}"
    raise Failed(
        f"`model` gets {test.accuracy:.4f} on {where}, which does not beat {test.threshold}: train for more "
        "epochs, tune the learning rate, or try a CNN (the solution's reaches 0.92 on Fashion-MNIST)"
    )


@check("reported_accuracy", "test_accuracy is the trained model's accuracy on the test set")
def check_reported_accuracy(ctx: Context) -> str:
    try:
        test = ctx.test_measurement()
    except Failed:
        raise Failed("needs the trained `model` (see the check above)") from None
    data, _ = ctx.harvest.get("model")
    if data.get("test_accuracy") is None:
        raise Failed(f"`test_accuracy` is not defined: write it in {WHERE['test_accuracy']}")
    reported = _number(data.get("test_accuracy"))
    if reported["kind"] not in ("real", "tensor") or reported["value"] is None:
        raise Failed(f"`test_accuracy` should be a number, found {reported['type']}")
    value = reported["value"]
    close = (
        abs(value - test.clean_accuracy) <= 0.005 and test.clean_accuracy - test.accuracy <= NOISE_TOLERANCE
    )
    if close:
        return f"{value:.4f}, as measured by the checker"
    raise Failed(
        f"test_accuracy = {value:.4f}, but `model` gets {test.clean_accuracy:.4f} on the test set: "
        "compute it with evaluate(model, x_test, y_test) after training — on the test split, not the "
        "training or validation data"
    )


CHECK_IDS = tuple(check_id for check_id, _, _ in CHECKS)


def decide(
    request: Request, harvest: Harvest, *, notebook_timeout: float = 0.0
) -> tuple[list[CheckResult], dict[str, Any]]:
    """Every check, decided here from the harvest: one result per check, always all of them, in order;
    and facts for the report (dataset, measured test accuracy, threshold, names not defined)."""
    ctx = Context(request, harvest, notebook_timeout=notebook_timeout)
    results = []
    for check_id, title, function in CHECKS:
        try:
            results.append(CheckResult(check_id, title, True, function(ctx)))
        except Failed as failure:
            results.append(CheckResult(check_id, title, False, str(failure)))
        except Exception as exc:  # malformed data can break a check in ways we did not foresee
            results.append(
                CheckResult(check_id, title, False, f"could not decide: {type(exc).__name__}: {exc}"[:300])
            )
    facts: dict[str, Any] = {"budget": request.budget, "dataset": request.dataset}
    if request.fashion_mnist_missing:
        facts["fashion_mnist_missing"] = request.fashion_mnist_missing
    cells = harvest.frames.get("cells")
    if cells is not None and isinstance(cells[0].get("defined"), list):
        facts["missing"] = [name for name in WHERE if name not in cells[0]["defined"]]
    measured = ctx._test_measurement
    if isinstance(measured, TestMeasurement):
        facts.update(test_accuracy=measured.accuracy, threshold=measured.threshold)
    return results, facts
