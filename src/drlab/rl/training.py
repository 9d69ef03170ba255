"""What every deep RL training loop of drlab shares (DQN, REINFORCE, A2C, PPO), so that each is written once.

- :func:`set_learning_rate` — for the schedules (DQN's decay, PPO's and A2C's annealing);
- :func:`torch_threads` — train on a fixed number of CPU threads, and give the caller's back;
- :func:`resume_state` — restore a checkpoint into a fresh state, or refuse it in one line;
- :func:`evaluate_and_keep` — a greedy evaluation during training; the best-evaluated weights are kept;
- :class:`Books` — where a session's seconds went: training, evaluations, checkpoints.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from drlab.common.errors import UsageError
from drlab.rl.evaluate import SELECTION_SEED_OFFSET, Evaluation, evaluate_greedy
from drlab.rl.records import EvaluationRecord


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group of ``optimizer`` this step size (for a schedule)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Train on ``count`` CPU threads (small matrices: extra threads cost more than they give); restore after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Resumable(Protocol):
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def resume_state(state: Resumable, checkpoint: dict[str, Any], algorithm: str) -> None:
    """Load ``checkpoint`` into ``state``; a checkpoint of another config is one :class:`UsageError`."""
    try:
        state.load_state_dict(checkpoint)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise UsageError(
            f"the checkpoint does not fit this {algorithm} config ({type(exc).__name__}: {message})"
        ) from exc


def copy_weights(network: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``network``'s state dict (the kept model, as it was when it was evaluated)."""
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}


class KeepsBest(Protocol):
    step: int
    best_eval: float
    best_state: dict[str, torch.Tensor]
    evaluations: list[EvaluationRecord]


def evaluate_and_keep(
    state: KeepsBest, network: nn.Module, env_id: str, episodes: int, seed: int, device: torch.device
) -> Evaluation:
    """Evaluate ``network`` greedily on the selection start states; record it; keep its weights if best.

    Ties go to the later, longer-trained model.
    """
    evaluation = evaluate_greedy(network, env_id, episodes, seed + SELECTION_SEED_OFFSET, device)
    lengths = float(evaluation.lengths.mean())
    state.evaluations.append(EvaluationRecord(state.step, evaluation.mean, evaluation.std, lengths))
    if evaluation.mean >= state.best_eval:
        state.best_eval, state.best_state = evaluation.mean, copy_weights(network)
    return evaluation


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in (before, after]: "every N steps" when steps come in chunks."""
    return every > 0 and after // every > before // every


@dataclass
class Books:
    """Where the seconds of one training session went: the loop, evaluations, checkpoints."""

    start_step: int
    """the step the session started at (0, or where a resume took over)"""
    started: float = field(default_factory=time.perf_counter)
    eval_seconds: float = 0.0
    checkpoint_seconds: float = 0.0

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.eval_seconds += time.perf_counter() - began

    @contextlib.contextmanager
    def checkpointing(self) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.checkpoint_seconds += time.perf_counter() - began

    def timing(self) -> tuple[float, float, float]:
        """(seconds since the start, of which in evaluations, of which in checkpoints)."""
        return time.perf_counter() - self.started, self.eval_seconds, self.checkpoint_seconds


NO_EVALUATION = -math.inf
"""best_eval before the first evaluation"""
