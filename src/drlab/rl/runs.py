"""The run folder of an RL run: one writer, and its reader, for tabular Q-learning and DQN.

The algorithms (:mod:`drlab.rl.qlearning`, :mod:`drlab.rl.dqn`) return typed results and write no file;
this module turns a result into the folder ``drlab rl`` leaves behind, and reads a DQN's model back::

    config.json               {"algorithm": ..., "config": {...}}: the resolved config, written first
    returns.csv               the learning curve: DQN's episodes and evaluations, Q-learning's episodes
    metrics.json              the final figures, as the algorithm computed them
    learning_curve.png        DQN          q_table.png     Q-learning
    model.safetensors         DQN: the kept (best-evaluated) Q-network; final_model.safetensors: the last
    checkpoint.pt             DQN: the whole training state, to resume

The folder itself is prepared (created, checked) by :mod:`drlab.common.rundir` before anything runs;
every file here is written atomically by :mod:`drlab.common.io`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from drlab.common.config import from_json, to_dict
from drlab.common.errors import UsageError
from drlab.common.io import (
    load_checkpoint,
    load_weights,
    read_json,
    save_checkpoint,
    save_weights,
    write_csv_atomic,
    write_json_atomic,
)
from drlab.common.plots import save_figure
from drlab.rl.config import DQNConfig, QLearningConfig
from drlab.rl.dqn import DQNResult, DQNState, QNetwork, train_dqn
from drlab.rl.envs import make_dqn_env
from drlab.rl.plots import plot_learning_curve, plot_q_table
from drlab.rl.qlearning import QLearningResult

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

Algorithm = Literal["qlearning", "dqn"]
"""the algorithms whose runs this module writes (the ``algorithm`` of config.json)"""

CONFIG_NAME = "config.json"
RETURNS_NAME = "returns.csv"
METRICS_NAME = "metrics.json"
CHECKPOINT_NAME = "checkpoint.pt"
MODEL_FILES = {"best": "model.safetensors", "final": "final_model.safetensors"}
"""which weights ``drlab rl evaluate --model`` reads: the best-evaluated model (kept) or the last one"""
DQN_RETURNS_FIELDS = ("step", "kind", "return", "std", "length")
QLEARNING_RETURNS_FIELDS = ("episode", "return")


# --- The one writer ------------------------------------------------------------------------------------
def write_config(run_dir: Path, algorithm: Algorithm, config: Any) -> None:
    """``config.json``: which algorithm, with which resolved config (the first file of a run)."""
    write_json_atomic(run_dir / CONFIG_NAME, {"algorithm": algorithm, "config": to_dict(config)})


def write_run(
    run_dir: Path,
    algorithm: Algorithm,
    config: Any,
    *,
    returns: Sequence[Mapping[str, Any]],
    returns_fields: Sequence[str],
    metrics: Mapping[str, Any],
    figures: Mapping[str, Figure],
    models: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
) -> list[str]:
    """Write a finished run into ``run_dir`` (already prepared); return the names of the files written."""
    write_config(run_dir, algorithm, config)
    write_csv_atomic(run_dir / RETURNS_NAME, returns, fieldnames=returns_fields)
    write_json_atomic(run_dir / METRICS_NAME, dict(metrics))
    for name, figure in figures.items():
        save_figure(figure, run_dir / name)
    for name, weights in (models or {}).items():
        save_weights(weights, run_dir / name)
    return [CONFIG_NAME, RETURNS_NAME, METRICS_NAME, *figures, *(models or {})]


def write_qlearning_run(run_dir: Path, config: QLearningConfig, result: QLearningResult) -> list[str]:
    """A Q-learning run: the training returns, the greedy policy's figures with the Q-table, its picture."""
    figure = plot_q_table(
        result.q_table,
        title=f"Q-table, {config.env}",
        desc=result.desc,
        action_names=("←", "↓", "→", "↑") if result.desc is not None else None,  # FrozenLake's actions
    )
    return write_run(
        run_dir,
        "qlearning",
        config,
        returns=[{"episode": i + 1, "return": float(r)} for i, r in enumerate(result.episode_returns)],
        returns_fields=QLEARNING_RETURNS_FIELDS,
        metrics={
            "eval_mean_return": result.eval_mean_return,
            "eval_success_rate": result.eval_success_rate,
            "eval_episodes": config.eval_episodes,
            "q_table": result.q_table.tolist(),
        },
        figures={"q_table.png": figure},
    )


def write_dqn_run(run_dir: Path, config: DQNConfig, result: DQNResult) -> list[str]:
    """A DQN run: episodes and evaluations in time order, the metrics, the learning curve, both models."""
    rows: list[dict[str, Any]] = [
        {"step": e.step, "kind": "episode", "return": e.episode_return, "std": "", "length": e.length}
        for e in result.episodes
    ] + [
        {
            "step": e.step,
            "kind": "eval",
            "return": e.mean_return,
            "std": e.std_return,
            "length": e.mean_length,
        }
        for e in result.evaluations
    ]
    rows.sort(key=lambda row: row["step"])  # stable: an episode ending at an evaluation's step comes first
    figure = plot_learning_curve(
        result.episodes,
        result.evaluations,
        title=f"DQN on {config.env}",
        threshold=result.metrics.reward_threshold,
    )
    return write_run(
        run_dir,
        "dqn",
        config,
        returns=rows,
        returns_fields=DQN_RETURNS_FIELDS,
        metrics=dataclasses.asdict(result.metrics),
        figures={"learning_curve.png": figure},
        models={MODEL_FILES["best"]: result.best_state, MODEL_FILES["final"]: result.q_network.state_dict()},
    )


# --- DQN in a run folder: train (or resume), checkpoint, write ------------------------------------------
def train_dqn_run(
    config: DQNConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DQNResult:
    """:func:`~drlab.rl.dqn.train_dqn` with a run folder: checkpoints during training, every file at the end.

    ``resume`` continues from ``run_dir/checkpoint.pt``, exactly where it was written. At each checkpoint
    the kept model so far is written too, so that an interrupted run can already be evaluated.
    """
    run = Path(run_dir)
    resume_from = load_checkpoint(run / CHECKPOINT_NAME) if resume else None
    write_config(run, "dqn", config)  # first: it marks the folder as a run that --resume can continue

    def save_training_state(state: DQNState) -> None:
        save_checkpoint(state.state_dict(), run / CHECKPOINT_NAME)
        if state.evaluations:
            save_weights(state.best_state, run / MODEL_FILES["best"], metadata={"step": str(state.step)})

    result = train_dqn(
        config, resume_from=resume_from, on_checkpoint=save_training_state, progress=progress, log=log
    )
    write_dqn_run(run, config, result)
    return result


# --- The reader ------------------------------------------------------------------------------------------
def load_run_model(
    run_dir: str | Path, which: str = "best", device: str = "cpu"
) -> tuple[QNetwork, DQNConfig]:
    """The Q-network saved in a DQN run folder (the kept model, or the final one), and the run's config."""
    run = Path(run_dir)
    if not run.is_dir():
        raise UsageError(f"{run}: no such run directory")
    if which not in MODEL_FILES:
        raise UsageError(f"--model must be one of {', '.join(MODEL_FILES)}, got {which!r}")
    saved = read_json(run / CONFIG_NAME)
    if not isinstance(saved, dict) or saved.get("algorithm") != "dqn":
        raise UsageError(f"{run}: not a DQN run (its config.json has no algorithm 'dqn')")
    config = from_json(DQNConfig, saved.get("config"), str(run / CONFIG_NAME))  # checked field by field
    state = load_weights(run / MODEL_FILES[which], device=device)
    env, observation_size, num_actions = make_dqn_env(config.env)
    env.close()
    q_network = QNetwork(observation_size, num_actions, config.hidden_sizes).to(device)
    try:
        q_network.load_state_dict(state)
    except RuntimeError as exc:
        raise UsageError(f"{run / MODEL_FILES[which]}: weights do not fit the run's Q-network") from exc
    return q_network, config
