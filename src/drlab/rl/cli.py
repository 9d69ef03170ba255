"""``drlab rl qlearning | dqn | evaluate``: the RL wing's commands (torch and gymnasium imported lazily)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from drlab.common.config import add_command, add_dataclass_arguments, dataclass_from_namespace
from drlab.common.errors import UsageError
from drlab.rl.config import DQNConfig, QLearningConfig

HELD_OUT_SEED = 100_000  # kept equal to drlab.rl.evaluate.HELD_OUT_SEED (that module imports torch)

QLEARNING_EPILOG = """\
examples:
  drlab rl qlearning --no-slippery --episodes 300     deterministic FrozenLake: solved in seconds
  drlab rl qlearning                                  slippery FrozenLake 4x4 (~74% success is optimal-ish)
  drlab rl qlearning --env Taxi-v4 --episodes 3000 --learning-rate 0.5
"""

DQN_EPILOG = """\
examples:
  drlab rl dqn                                   CartPole-v1, 50k steps, zoo settings (about a minute on a CPU)
  drlab rl dqn --total-steps 5000 --out runs/try  a quick look
  drlab rl dqn --out runs/try --resume            continue a run from its checkpoint
  drlab rl evaluate runs/dqn-CartPole-v1-seed0   re-evaluate the kept (best-evaluated) model

run directory: config.json, returns.csv, learning_curve.png, metrics.json, model.safetensors (kept:
best-evaluated), final_model.safetensors, checkpoint.pt (to resume).
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``drlab rl`` and its three sub-commands."""
    rl = add_command(
        subparsers,
        "rl",
        help="reinforcement learning: tabular Q-learning, DQN on CartPole",
        description="Reinforcement learning, where the course goes next: the Q-learning recap, then deep Q-learning.",
    )
    rl.set_defaults(handler=lambda args: _print_help(rl))
    commands = rl.add_subparsers(title="commands", metavar="COMMAND")

    qlearning = add_command(
        commands,
        "qlearning",
        help="tabular Q-learning with ε-greedy exploration (FrozenLake, Taxi)",
        description="Tabular Q-learning: the Bellman update Q[s,a] += α (r + γ max Q[s',·] − Q[s,a]), "
        "then the greedy policy, printed and plotted.",
        epilog=QLEARNING_EPILOG,
    )
    add_dataclass_arguments(qlearning, QLearningConfig)
    _add_run_options(qlearning, resume=False)
    qlearning.set_defaults(handler=run_qlearning)

    dqn = add_command(
        commands,
        "dqn",
        help="deep Q-learning (DQN) on CartPole-v1 or another discrete-action env",
        description="Deep Q-learning: replay buffer, target network, ε-greedy, Huber loss, Adam; the "
        "best-evaluated model is kept.",
        epilog=DQN_EPILOG,
    )
    add_dataclass_arguments(dqn, DQNConfig)
    _add_run_options(dqn, resume=True)
    dqn.set_defaults(handler=run_dqn)

    evaluate = add_command(
        commands,
        "evaluate",
        help="re-evaluate the model of a DQN run greedily",
        description="Play the greedy policy of a DQN run's model (no exploration) and report its mean return.",
    )
    evaluate.add_argument("run", metavar="RUN", help="the run directory written by `drlab rl dqn`")
    evaluate.add_argument(
        "--episodes", type=int, default=10, metavar="N", help="episodes to play (default: 10)"
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        default=HELD_OUT_SEED,
        metavar="N",
        help="episode i starts from reset(seed=N+i); the default gives start states the model was not "
        f"selected on (default: {HELD_OUT_SEED})",
    )
    evaluate.add_argument(
        "--model",
        choices=("best", "final"),
        default="best",
        help="the kept best-evaluated model, or the last one",
    )
    evaluate.set_defaults(handler=run_evaluate)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _add_run_options(parser: argparse.ArgumentParser, *, resume: bool) -> None:
    parser.add_argument(
        "--out", metavar="RUN", default=None, help="run directory (default: runs/<algo>-<env>-seed<S>)"
    )
    parser.add_argument("--force", action="store_true", help="replace a run already in --out")
    if resume:
        parser.add_argument(
            "--resume", action="store_true", help="continue the run in --out from its checkpoint"
        )
    parser.add_argument("--quiet", action="store_true", help="print only the summary (no progress bar)")


def _default_out(algorithm: str, env: str, seed: int) -> Path:
    return Path("runs") / f"{algorithm}-{env}-seed{seed}"


def run_qlearning(args: argparse.Namespace) -> int:
    from drlab.common.rundir import prepare_run_dir
    from drlab.common.seeding import seed_everything
    from drlab.rl.envs import make_tabular_env
    from drlab.rl.qlearning import describe, train_q_learning
    from drlab.rl.runs import write_qlearning_run

    config = dataclass_from_namespace(QLearningConfig, args)
    if config.episodes <= 0 or config.eval_episodes <= 0:
        raise UsageError("--episodes and --eval-episodes must be positive")
    if not 0 < config.learning_rate <= 1 or not 0 <= config.gamma <= 1:
        raise UsageError("--learning-rate must be in (0, 1] and --gamma in [0, 1]")
    make_tabular_env(config.env, slippery=config.slippery)[
        0
    ].close()  # a bad env fails before any file is touched
    run = prepare_run_dir(args.out or _default_out("qlearning", config.env, config.seed), force=args.force)
    seed_everything(config.seed)
    result = train_q_learning(config)
    lines = describe(result, config)
    print("\n".join(lines[:2] if args.quiet else lines))
    written = write_qlearning_run(run, config, result)
    print(f"wrote {run}/: {', '.join(written)}")
    return 0


def run_dqn(args: argparse.Namespace) -> int:
    from drlab.common.device import resolve_device
    from drlab.common.io import read_json
    from drlab.common.rundir import prepare_run_dir
    from drlab.rl.dqn import check_config
    from drlab.rl.envs import make_dqn_env
    from drlab.rl.runs import train_dqn_run

    config = dataclass_from_namespace(DQNConfig, args)
    out = Path(args.out) if args.out else _default_out("dqn", config.env, config.seed)
    if args.resume and args.force:
        raise UsageError("--resume and --force contradict each other: choose one")
    if args.resume:
        prepare_run_dir(out, resume=True)
        config = _resumed_config(read_json(out / "config.json"), config, out)
    # check everything before prepare_run_dir, which --force lets delete an earlier run
    check_config(config)
    resolve_device(config.device)
    make_dqn_env(config.env)[0].close()
    run = prepare_run_dir(out, resume=args.resume, force=args.force)
    quiet = args.quiet
    result = train_dqn_run(
        config,
        run,
        resume=args.resume,
        progress=not quiet and sys.stderr.isatty(),
        log=None if quiet else print,
    )
    m = result.metrics
    print(
        f"DQN on {config.env}: {m.steps:,} steps in {m.seconds:.1f} s ({m.steps_per_second:.0f} steps/s "
        f"training); kept model ({m.kept_model}): {m.eval_mean_return:.1f} ± {m.eval_std_return:.1f} "
        f"over {m.eval_episodes} held-out episodes; final model: {m.final_eval_mean_return:.1f}"
    )
    print(
        f"wrote {run}/: config.json, returns.csv, learning_curve.png, metrics.json, model.safetensors, "
        "final_model.safetensors, checkpoint.pt"
    )
    return 0


def _resumed_config(saved: Any, asked: DQNConfig, run: Path) -> DQNConfig:
    """The saved config; ``--total-steps``, ``--device`` and ``--num-threads`` may change on resume, nothing else."""
    if not isinstance(saved, dict) or saved.get("algorithm") != "dqn":
        raise UsageError(f"{run}: not a DQN run (config.json has no algorithm 'dqn')")
    fields = dict(saved["config"])
    fields["hidden_sizes"] = tuple(fields["hidden_sizes"])
    try:
        config = DQNConfig(**fields)
    except TypeError as exc:
        raise UsageError(f"{run}/config.json: not a DQN config ({exc})") from exc
    defaults = DQNConfig()
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(DQNConfig):
        value, saved_value = getattr(asked, field.name), getattr(config, field.name)
        if value == getattr(defaults, field.name) or value == saved_value:
            continue  # not asked for, or the same
        if field.name in ("total_steps", "device", "num_threads"):
            changes[field.name] = value
        else:
            option = "--" + field.name.replace("_", "-")
            raise UsageError(
                f"--resume continues {run} with its saved config: {option} was {saved_value!r} there, "
                f"{value!r} asked (only --total-steps, --device, --num-threads may change)"
            )
    return dataclasses.replace(config, **changes)


def run_evaluate(args: argparse.Namespace) -> int:
    from drlab.rl.evaluate import evaluate_greedy
    from drlab.rl.runs import load_run_model

    q_network, config = load_run_model(args.run, args.model)
    evaluation = evaluate_greedy(q_network, config.env, args.episodes, args.seed)
    print(
        f"{args.run} ({args.model} model) on {config.env}: mean return {evaluation.mean:.1f} ± {evaluation.std:.1f} "
        f"over {args.episodes} greedy episodes (seeds {args.seed}..{args.seed + args.episodes - 1})"
    )
    print("returns: " + " ".join(f"{r:g}" for r in evaluation.returns))
    return 0
