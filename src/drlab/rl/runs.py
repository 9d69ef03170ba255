"""One way to run an RL training into a folder, for every algorithm; the folder's writer and its reader.

:func:`train_run` is the whole job, for DQN, REINFORCE, A2C and PPO alike, and the CLI only parses its
options and calls it: it checks the config, the environment and the folder before touching anything,
claims the folder (:func:`drlab.common.rundir.claim_run_dir`), starts or resumes from the checkpoint,
checkpoints during training, and writes every file at the end::

    config.json               {"algorithm": ..., "config": {...}}: the resolved config, written first
    returns.csv               the learning curve: training episodes and greedy evaluations, in step order
    updates.csv               REINFORCE, A2C, PPO: one row per update (losses, entropy, approx_kl, …)
    metrics.json              the final figures (:class:`~drlab.rl.records.RunMetrics`, the same keys for all)
    learning_curve.png        the learning curve, drawn
    model.safetensors         the kept (best-evaluated) model; final_model.safetensors: the last one
    checkpoint.pt             the whole training state, to resume exactly (checksummed, weights_only)

Tabular Q-learning writes its own small folder (:func:`write_qlearning_run`). :func:`load_run_model`
reads any deep run's model back, for ``drlab rl evaluate``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drlab.common.config import from_json, merge_on_resume, to_dict, upgrade_saved
from drlab.common.device import resolve_device
from drlab.common.errors import UsageError
from drlab.common.folders import RecordedFolder
from drlab.common.io import load_checkpoint, load_model_weights, read_json
from drlab.common.rundir import RUN_READERS, claim_run_dir, inspect_run_dir, require_run_kind, run_kind
from drlab.common.runfiles import write_run_files
from drlab.rl import a2c, dqn, ppo, reinforce
from drlab.rl.config import A2CConfig, DQNConfig, PPOConfig, QLearningConfig, ReinforceConfig
from drlab.rl.dqn import DQNResult, QNetwork, check_checkpoint
from drlab.rl.envs import make_dqn_env
from drlab.rl.plots import plot_learning_curve, plot_q_table
from drlab.rl.policies import ActorCritic
from drlab.rl.qlearning import QLearningResult
from drlab.rl.records import EpisodeRecord, EvaluationRecord, UpdateRecord
from drlab.rl.rollout import PolicyGradientResult, PolicyGradientState
from drlab.rl.training import resume_state
from drlab.rl.vecenv import describe_policy_env

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

DeepConfig = DQNConfig | ReinforceConfig | A2CConfig | PPOConfig
DeepResult = DQNResult | PolicyGradientResult

CONFIG_NAME = "config.json"
RETURNS_NAME = "returns.csv"
UPDATES_NAME = "updates.csv"
METRICS_NAME = "metrics.json"
CHECKPOINT_NAME = "checkpoint.pt"
MODEL_FILES = {"best": "model.safetensors", "final": "final_model.safetensors"}
"""which weights ``drlab rl evaluate --model`` reads: the best-evaluated model (kept) or the last one"""
RETURNS_FIELDS = ("step", "kind", "return", "std", "length")
QLEARNING_RETURNS_FIELDS = ("episode", "return")
#: config fields renamed since earlier drlab versions: their runs still read (and resume)
RENAMED_FIELDS = {"learning_rate": "lr", "final_learning_rate_fraction": "final_lr_fraction"}


@dataclass(frozen=True)
class Spec:
    """What :func:`train_run` needs to know of one deep RL algorithm."""

    label: str
    """its name in messages"""
    config_class: type[Any]
    """its typed config"""
    train: Callable[..., Any]
    """its training function: ``train(config, *, resume_from, on_checkpoint, progress, log)``"""
    checkpoint_keys: tuple[str, ...]
    """what its checkpoint holds (``state_dict()``): a checksummed file without them is refused"""
    budget: str
    """the config field that counts the run's length (total_steps; REINFORCE: episodes)"""
    exploration: str
    """how its training episodes choose their actions (for the learning curve's legend)"""


_PG_KEYS = (
    "step", "agent", "optimizer", "envs", "observations", "reward_scaler", "rng", "batch_rng", "best_state",
    "best_eval", "episodes", "evaluations", "updates",
)  # fmt: skip
SPECS: dict[str, Spec] = {
    "dqn": Spec(
        "DQN", DQNConfig, dqn.train_dqn,
        ("step", "q_network", "target_network", "optimizer", "buffer", "env_rng", "action_space_rng",
         "explore_rng", "best_state", "best_eval", "episodes", "evaluations"),
        "total_steps", "ε-greedy",
    ),
    "reinforce": Spec("REINFORCE", ReinforceConfig, reinforce.train, _PG_KEYS, "episodes", "sampled from π"),
    "a2c": Spec("A2C", A2CConfig, a2c.train, _PG_KEYS, "total_steps", "sampled from π"),
    "ppo": Spec("PPO", PPOConfig, ppo.train, _PG_KEYS, "total_steps", "sampled from π"),
}  # fmt: skip
#: what ``--resume`` lets change: the budget and where it runs, not what it learns
RESUMABLE = ("total_steps", "episodes", "device", "num_threads", "vectorization")


def _resumable(config: DeepConfig) -> tuple[str, ...]:
    return tuple(name for name in RESUMABLE if hasattr(config, name))


def algorithm_of(config: DeepConfig) -> str:
    """The algorithm a config belongs to (``dqn``, ``reinforce``, ``a2c``, ``ppo``)."""
    for name, spec in SPECS.items():
        if type(config) is spec.config_class:
            return name
    raise TypeError(f"not the config of a deep RL algorithm: {type(config).__name__}")


# --- The one way to run a training ------------------------------------------------------------------------------
def check_config(config: DeepConfig) -> None:
    """Everything checked before a folder is touched: the settings, the device, the environment."""
    config.check()
    resolve_device(config.device)
    if isinstance(config, DQNConfig):
        env, observation_size, num_actions = make_dqn_env(config.env)
        env.close()
        config.check_machine(observation_size, num_actions)
    else:
        describe_policy_env(config.env)


def train_run(
    config: DeepConfig,
    out: str | Path,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> Any:
    """Train ``config``'s algorithm in the run folder ``out``: check, claim, start or resume, write.

    ``resume`` continues the run in ``out`` from its checkpoint, exactly where it stopped; ``config`` must
    then be the saved one, except its budget, device and threads (:data:`RESUMABLE`; see
    :func:`resume_config` to build it from the saved one). ``force`` replaces a run already in ``out``.
    Returns the algorithm's result (:class:`~drlab.rl.dqn.DQNResult` or
    :class:`~drlab.rl.rollout.PolicyGradientResult`).
    """
    algorithm = algorithm_of(config)
    spec = SPECS[algorithm]
    check_config(config)
    inspect_run_dir(out, algorithm, resume=resume, force=force)
    checkpoint = None
    if resume:  # everything checked before the claim rewrites anything
        folder = Path(out)
        saved = read_run_config(folder, algorithm)
        merge_on_resume(saved, dataclasses.asdict(config), _resumable(saved), where=str(folder))
        checkpoint = load_checkpoint(folder / CHECKPOINT_NAME)  # checksum checked: never resume garbage
        _check_checkpoint(checkpoint, spec, config, folder)
    with claim_run_dir(out, algorithm, resume=resume, force=force) as run:
        # config.json first: it marks the folder as a run that --resume can continue
        write_run_files(run, records={CONFIG_NAME: _config_record(algorithm, config)})

        def save_training_state(state: Any) -> None:
            # the kept model so far too: an interrupted run can already be evaluated
            kept = {MODEL_FILES["best"]: (state.best_state, {"step": str(state.step)})}
            write_run_files(
                run,
                weights=kept if state.evaluations else {},
                checkpoints={CHECKPOINT_NAME: state.state_dict()},
            )

        result = spec.train(
            config, resume_from=checkpoint, on_checkpoint=save_training_state, progress=progress, log=log
        )
        del checkpoint
        write_result(run, algorithm, config, result)
    return result


def _check_checkpoint(checkpoint: dict[str, Any], spec: Spec, config: DeepConfig, run: Path) -> None:
    """Refuse, before any file is rewritten, a checkpoint that is not this algorithm's or does not load into
    a fresh state of ``config`` (a trial load), and one that has already gone past the budget."""
    where = str(run / CHECKPOINT_NAME)
    if isinstance(config, DQNConfig):
        check_checkpoint(checkpoint, config, where)  # every field, by type and shape
    else:
        missing = [key for key in spec.checkpoint_keys if key not in checkpoint]
        step = checkpoint.get("step")
        if missing or isinstance(step, bool) or not isinstance(step, int) or step < 0:
            shown = f"no {', '.join(missing[:3])}" if missing else f"step {step!r}"
            raise UsageError(f"{where}: not a {spec.label} checkpoint ({shown})")
        import torch

        trial = PolicyGradientState.create(config, torch.device("cpu"), getattr(config, "optimizer", "adam"))
        try:
            resume_state(trial, checkpoint, f"{spec.label} ({where})")
        finally:
            trial.envs.close()
    done, option, unit = int(checkpoint["step"]), "--total-steps", "steps"
    if spec.budget == "episodes":
        done, option, unit = len(checkpoint["episodes"]), "--episodes", "episodes"
    if done > getattr(config, spec.budget):
        raise UsageError(
            f"--resume: the run in {run} has already trained {done:,} {unit}; {option} is the total, so it "
            f"must be ≥ {done} (got {getattr(config, spec.budget)})"
        )


def read_run_config(run: Path, algorithm: str | None = None) -> Any:
    """The config saved in ``run/config.json`` (of ``algorithm``, if given), checked field by field."""
    path = run / CONFIG_NAME
    require_run_kind(run, *([algorithm] if algorithm else SPECS))  # a TP1 run is named, with its reader
    saved = read_json(path)
    found = saved.get("algorithm") if isinstance(saved, dict) else None
    expected = [algorithm] if algorithm else list(SPECS)
    if found not in expected:
        wanted = SPECS[algorithm].label if algorithm else "DQN, REINFORCE, A2C or PPO"
        raise UsageError(f"{run}: not a {wanted} run (its config.json names algorithm {found!r})")
    settings = saved.get("config")
    if isinstance(settings, dict):  # runs of an earlier drlab, written under the old names
        settings = upgrade_saved(settings, str(path), renamed=RENAMED_FIELDS)
    return from_json(SPECS[found].config_class, settings, str(path))


def resume_config(run: str | Path, algorithm: str, typed: Mapping[str, Any]) -> Any:
    """The config to resume ``run`` with: the saved one, with the options ``typed`` on top (refused where
    they would change what the run learns; see :func:`drlab.common.config.merge_on_resume`)."""
    run = Path(run)
    inspect_run_dir(run, algorithm, resume=True)
    saved = read_run_config(run, algorithm)
    return merge_on_resume(saved, dict(typed), _resumable(saved), where=str(run))


# --- The writer -------------------------------------------------------------------------------------------------
def _config_record(algorithm: str, config: Any) -> dict[str, Any]:
    return {"algorithm": algorithm, "config": to_dict(config)}


def returns_rows(
    episodes: Sequence[EpisodeRecord], evaluations: Sequence[EvaluationRecord]
) -> list[dict[str, Any]]:
    """Training episodes and greedy evaluations as the rows of ``returns.csv``, in step order."""
    rows: list[dict[str, Any]] = [
        {"step": e.step, "kind": "episode", "return": e.episode_return, "std": "", "length": e.length}
        for e in episodes
    ] + [
        {
            "step": e.step,
            "kind": "eval",
            "return": e.mean_return,
            "std": e.std_return,
            "length": e.mean_length,
        }
        for e in evaluations
    ]
    rows.sort(key=lambda row: row["step"])  # stable: an episode ending at an evaluation's step comes first
    return rows


def write_result(
    run_dir: RecordedFolder, algorithm: str, config: DeepConfig, result: DeepResult
) -> list[str]:
    """A finished deep RL run: both models, the curves' tables, the metrics, the learning curve."""
    spec = SPECS[algorithm]
    final = result.q_network if isinstance(result, DQNResult) else result.agent
    figure = plot_learning_curve(
        result.episodes,
        result.evaluations,
        title=f"{spec.label} on {config.env}",
        threshold=result.metrics.reward_threshold,
        exploration=spec.exploration,
    )
    tables: dict[str, tuple[list[dict[str, Any]], Sequence[str]]] = {
        RETURNS_NAME: (returns_rows(result.episodes, result.evaluations), RETURNS_FIELDS)
    }
    if isinstance(result, PolicyGradientResult):
        updates = [dataclasses.asdict(record) for record in result.updates]
        tables[UPDATES_NAME] = (updates, [field.name for field in dataclasses.fields(UpdateRecord)])
    return write_run_files(
        run_dir,
        records={
            CONFIG_NAME: _config_record(algorithm, config),
            METRICS_NAME: dataclasses.asdict(result.metrics),
        },
        tables=tables,
        figures={"learning_curve.png": figure},
        weights={
            MODEL_FILES["best"]: (result.best_state, None),
            MODEL_FILES["final"]: (final.state_dict(), None),
        },
    )


def write_qlearning_run(
    run_dir: RecordedFolder, config: QLearningConfig, result: QLearningResult
) -> list[str]:
    """A Q-learning run: the training returns, the greedy policy's figures with the Q-table, its picture."""
    figure: Figure = plot_q_table(
        result.q_table,
        title=f"Q-table, {config.env}",
        desc=result.desc,
        action_names=("←", "↓", "→", "↑") if result.desc is not None else None,  # FrozenLake's actions
    )
    return write_run_files(
        run_dir,
        records={
            CONFIG_NAME: _config_record("qlearning", config),
            METRICS_NAME: {
                "eval_mean_return": result.eval_mean_return,
                "eval_success_rate": result.eval_success_rate,
                "eval_episodes": config.eval_episodes,
                "q_table": result.q_table.tolist(),
            },
        },
        tables={
            RETURNS_NAME: (
                [{"episode": i + 1, "return": float(r)} for i, r in enumerate(result.episode_returns)],
                QLEARNING_RETURNS_FIELDS,
            )
        },
        figures={"q_table.png": figure},
    )


# --- The reader -------------------------------------------------------------------------------------------------
def network_builder(config: DeepConfig) -> Callable[[], torch.nn.Module]:
    """A function that builds a fresh network of the shape ``config`` trains (Q-network, or actor-critic)."""
    if isinstance(config, DQNConfig):
        env, observation_size, num_actions = make_dqn_env(config.env)
        env.close()
        return lambda: QNetwork(observation_size, num_actions, config.hidden_sizes)
    observation_size, action_size, continuous = describe_policy_env(config.env)
    return lambda: ActorCritic.for_config(config, observation_size, action_size, continuous)


def load_run_model(
    run_dir: str | Path, which: str = "best", device: str = "cpu"
) -> tuple[torch.nn.Module, Any]:
    """The model saved in a deep RL run folder (the kept one, or the final one), and the run's config.

    Its ``forward`` is the greedy policy's input to :func:`drlab.rl.evaluate.evaluate_greedy`: Q-values
    (DQN), logits or the Gaussian's mean (REINFORCE, A2C, PPO), from raw observations.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise UsageError(f"{run}: no such run directory")
    kind = run_kind(run)
    if kind is not None and kind not in SPECS:  # a training run is named as such, with what reads it
        raise UsageError(
            f"{run} holds a drlab {kind} run, not a DQN, REINFORCE, A2C or PPO run "
            f"({RUN_READERS[kind].replace('RUN', str(run))})"
        )
    if which not in MODEL_FILES:
        raise UsageError(f"--model must be one of {', '.join(MODEL_FILES)}, got {which!r}")
    config = read_run_config(run)
    # shapes compared first: an edited config.json allocates nothing
    network = load_model_weights(network_builder(config), run / MODEL_FILES[which], "the run's network")
    return network.to(device), config
