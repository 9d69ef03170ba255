"""The run folder of an RL run: one writer, and its reader, for tabular Q-learning and DQN.

The algorithms (:mod:`drlab.rl.qlearning`, :mod:`drlab.rl.dqn`) return typed results and write no file;
this module turns a result into the folder ``drlab rl`` leaves behind, and reads a DQN's model back::

    config.json               {"algorithm": ..., "config": {...}}: the resolved config, written first
    returns.csv               the learning curve: DQN's episodes and evaluations, Q-learning's episodes
    metrics.json              the final figures, as the algorithm computed them
    learning_curve.png        DQN          q_table.png     Q-learning
    model.safetensors         DQN: the kept (best-evaluated) Q-network; final_model.safetensors: the last
    checkpoint.pt             DQN: the whole training state, to resume

The folder itself is claimed (checked, locked, marked) by :mod:`drlab.common.rundir` before anything
runs; every file here is written through it (:func:`drlab.common.runfiles.write_run_files`): atomically,
and recorded in its marker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from drlab.common.config import from_json, to_dict
from drlab.common.errors import UsageError
from drlab.common.folders import RecordedFolder
from drlab.common.io import load_checkpoint, load_model_weights, read_json
from drlab.common.rundir import RunDir, claim_run_dir, require_run_kind
from drlab.common.runfiles import write_run_files
from drlab.rl.config import DQNConfig, QLearningConfig
from drlab.rl.dqn import DQNResult, DQNState, QNetwork, check_checkpoint, train_dqn
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
def _config_record(algorithm: Algorithm, config: Any) -> dict[str, Any]:
    return {"algorithm": algorithm, "config": to_dict(config)}


def write_config(run_dir: RecordedFolder, algorithm: Algorithm, config: Any) -> None:
    """``config.json``: which algorithm, with which resolved config (the first file of a run)."""
    write_run_files(run_dir, records={CONFIG_NAME: _config_record(algorithm, config)})


def write_run(
    run_dir: RecordedFolder,
    algorithm: Algorithm,
    config: Any,
    *,
    returns: Sequence[Mapping[str, Any]],
    returns_fields: Sequence[str],
    metrics: Mapping[str, Any],
    figures: Mapping[str, Figure],
    models: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
) -> list[str]:
    """Write a finished run into ``run_dir`` (already claimed); return the names of the files written."""
    return write_run_files(
        run_dir,
        records={CONFIG_NAME: _config_record(algorithm, config), METRICS_NAME: dict(metrics)},
        tables={RETURNS_NAME: (returns, returns_fields)},
        figures=figures,
        weights={name: (weights, None) for name, weights in (models or {}).items()},
    )


def write_qlearning_run(
    run_dir: RecordedFolder, config: QLearningConfig, result: QLearningResult
) -> list[str]:
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


def write_dqn_run(run_dir: RecordedFolder, config: DQNConfig, result: DQNResult) -> list[str]:
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
    run_dir: str | Path | RunDir,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> DQNResult:
    """:func:`~drlab.rl.dqn.train_dqn` with a run folder: checkpoints during training, every file at the end.

    ``run_dir`` is a folder to claim (new; a DQN run to continue with ``resume``, or to replace with
    ``force``: see :func:`~drlab.common.rundir.claim_run_dir`), or one already claimed. ``resume``
    continues from ``run_dir/checkpoint.pt``, exactly where it was written, after checking that it fits
    ``config``: a checkpoint that does not is refused before any file is rewritten. At each checkpoint
    the kept model so far is written too, so that an interrupted run can already be evaluated.
    """
    if not isinstance(run_dir, RunDir):
        with claim_run_dir(run_dir, "dqn", resume=resume, force=force) as claimed:
            return train_dqn_run(config, claimed, resume=resume, progress=progress, log=log)
    run = run_dir
    resume_from = None
    if resume:
        resume_from = load_checkpoint(run.path / CHECKPOINT_NAME)
        check_checkpoint(resume_from, config, str(run.path / CHECKPOINT_NAME))
    write_config(run, "dqn", config)  # it marks the folder as a run that --resume can continue

    def save_training_state(state: DQNState) -> None:
        kept = (
            {MODEL_FILES["best"]: (state.best_state, {"step": str(state.step)})} if state.evaluations else {}
        )
        write_run_files(run, weights=kept, checkpoints={CHECKPOINT_NAME: state.state_dict()})

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
    require_run_kind(run, "dqn")  # a training run is named as such, with the command that reads it
    if which not in MODEL_FILES:
        raise UsageError(f"--model must be one of {', '.join(MODEL_FILES)}, got {which!r}")
    saved = read_json(run / CONFIG_NAME)
    if not isinstance(saved, dict) or saved.get("algorithm") != "dqn":
        raise UsageError(f"{run}: not a DQN run (its config.json has no algorithm 'dqn')")
    config = from_json(DQNConfig, saved.get("config"), str(run / CONFIG_NAME))  # checked field by field
    env, observation_size, num_actions = make_dqn_env(config.env)
    env.close()
    q_network = load_model_weights(  # shapes compared first: an edited config.json allocates nothing
        lambda: QNetwork(observation_size, num_actions, config.hidden_sizes),
        run / MODEL_FILES[which],
        "the run's Q-network",
    )
    return q_network.to(device), config
