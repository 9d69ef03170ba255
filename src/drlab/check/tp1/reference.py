"""The grader's reference: the lecture's four steps, the accuracy, the cross-entropy, and their classic
mistakes, so that a hint can say which one a student's result matches.

Computed in the grader's process only (this folder is hidden from the sandbox).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from drlab.check.harvest import make_probe
from drlab.check.tp1.contract import NUM_CLASSES


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

    ``zero_grad=False``, ``softmax_first=True`` and ``max_batches`` give the classic mistakes.
    """
    model.train()  # dropout and batch norm in their training behaviour
    losses: list[float] = []
    for x_batch, y_batch in batches:
        if max_batches is not None and len(losses) >= max_batches:
            break
        logits = model(x_batch)  # ❶ forward pass (propagation avant)
        if softmax_first:
            logits = torch.softmax(logits, dim=1)
        loss = loss_fn(logits, y_batch)  # ❷ loss (fonction de perte)
        loss.backward()  # ❸ gradients (rétropropagation), added into each parameter's .grad
        optimizer.step()  # ❹ update of the parameters (mise à jour des paramètres): θ ← θ − η ∇θ
        if zero_grad:
            optimizer.zero_grad()  # .grad accumulates: remise à zéro before the next batch
        losses.append(loss.item())
    return sum(losses) / len(losses)


def parameters_of(model: nn.Module) -> list[torch.Tensor]:
    """Copies of ``model``'s parameters, in order."""
    return [p.detach().clone() for p in model.parameters()]


def probe_loss(
    tensors: Mapping[str, torch.Tensor], name: str, parameters: Sequence[torch.Tensor] | None
) -> float:
    """The cross-entropy of probe ``name`` on its own data, with ``parameters`` (its initial ones: None)."""
    probe = make_probe(tensors, name)
    if parameters is not None:
        with torch.no_grad():
            for target, value in zip(probe.parameters(), parameters, strict=True):
                target.copy_(value)
    probe.eval()
    with torch.no_grad():
        return float(nn.functional.cross_entropy(probe(tensors[f"{name}.x"]), tensors[f"{name}.y"]))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of rows of ``logits`` whose largest score is the label."""
    return float((logits.float().argmax(dim=1) == labels).float().mean())


def chunk_mean_accuracies(correct: torch.Tensor) -> set[float]:
    """Every number that averaging per-chunk accuracies gives on ``correct`` (one bool per image),
    for every chunk size whose last chunk is smaller."""
    n = len(correct)
    values = set()
    for size in range(2, n):
        if n % size:
            chunks = correct.float().split(size)
            values.add(round(float(torch.stack([c.mean() for c in chunks]).mean()), 6))
    return values


def flat_argmax_accuracies(logits: torch.Tensor, labels: torch.Tensor) -> set[float]:
    """Every accuracy that ``logits.argmax()`` *without* ``dim`` gives, per chunk of every size ≥ 2:
    one index into the flattened chunk, compared with every label."""
    values = set()
    for size in range(2, len(labels) + 1):
        correct = sum(
            int((chunk.argmax() == y).sum())
            for chunk, y in zip(logits.split(size), labels.split(size), strict=True)
        )
        values.add(round(correct / len(labels), 6))
    return values


def accuracy_variants(logits: torch.Tensor, labels: torch.Tensor) -> set[float]:
    """Every number that a right ``evaluate``, or one of its classic mistakes (a percentage, the error
    rate, ``argmax()`` without ``dim``, a mean of per-chunk accuracies), returns on these scores."""
    correct = logits.argmax(dim=1) == labels
    right = accuracy(logits, labels)
    plain = {round(v, 6) for v in (right, 100 * right, 1 - right, 100 * (1 - right))}
    return plain | flat_argmax_accuracies(logits, labels) | chunk_mean_accuracies(correct)


def loss_references(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """The classic choices of loss, on the probe's logits and labels (the right one is ``cross_entropy``)."""
    functional = nn.functional
    one_hot = functional.one_hot(labels, NUM_CLASSES).float()
    probabilities = torch.softmax(logits, dim=1)
    return {
        "cross_entropy": float(functional.cross_entropy(logits, labels)),
        "cross_entropy_sum": float(functional.cross_entropy(logits, labels, reduction="sum")),
        "mse_one_hot": float(functional.mse_loss(logits, one_hot)),
        "mse_probabilities": float(functional.mse_loss(probabilities, one_hot)),
        "softmax_cross_entropy": float(functional.cross_entropy(probabilities, labels)),
        "nll_logits": float(functional.nll_loss(logits, labels)),
        "nll_probabilities": float(functional.nll_loss(probabilities, labels)),
        "bce_one_hot": float(functional.binary_cross_entropy_with_logits(logits, one_hot)),
    }


def cross_entropy_gradient(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∂ mean cross-entropy / ∂ logits: (softmax − one-hot) / B."""
    return (torch.softmax(logits, dim=1) - nn.functional.one_hot(labels, NUM_CLASSES)) / len(labels)


def lookup_gap(public: float, private: float, n_public: int, n_private: int) -> float:
    """How much better on the public test images than on the private ones a model that classifies can
    be, by chance: four standard errors of the difference of the two accuracies, plus two points."""
    p = min(max((public + private) / 2, 0.05), 0.95)
    return 4 * math.sqrt(p * (1 - p) * (1 / max(n_public, 1) + 1 / max(n_private, 1))) + 0.02
