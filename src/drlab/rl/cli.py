"""``drlab rl qlearning | dqn | evaluate``: the RL wing's commands (torch and gymnasium imported lazily)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from drlab.common.config import (
    add_command,
    add_dataclass_arguments,
    check_int,
    check_seed,
    dataclass_from_namespace,
    from_json,
    mark_untyped,
    merge_on_resume,
    typed_options,
)
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
    mark_untyped(dqn, DQNConfig)  # --resume must know what was typed, not what equals a default
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


def _out(args: argparse.Namespace, algorithm: str, env: str, seed: int) -> str | Path:
    # --out "" is a mistake to report (rundir refuses it), not a reason to fall back to the default
    return args.out if args.out is not None else _default_out(algorithm, env, seed)


def run_qlearning(args: argparse.Namespace) -> int:
    from drlab.common.rundir import claim_run_dir, inspect_run_dir
    from drlab.common.seeding import seed_everything
    from drlab.rl.envs import make_tabular_env
    from drlab.rl.qlearning import describe, train_q_learning
    from drlab.rl.runs import write_qlearning_run

    config = dataclass_from_namespace(QLearningConfig, args)
    config.check()  # everything is checked before any file is touched
    out = _out(args, "qlearning", config.env, config.seed)
    inspect_run_dir(out, "qlearning", force=args.force)
    make_tabular_env(config.env, slippery=config.slippery)[0].close()  # a bad env fails here too
    with claim_run_dir(out, "qlearning", force=args.force) as run:
        seed_everything(config.seed)
        result = train_q_learning(config)
        lines = describe(result, config)
        print("\n".join(lines[:2] if args.quiet else lines))
        written = write_qlearning_run(run, config, result)
    print(f"wrote {run.path}/: {', '.join(written)}")
    return 0


#: what ``--resume`` lets change in a DQN run: the budget and where it runs, not what it learns
DQN_RESUMABLE = ("total_steps", "device", "num_threads")


def run_dqn(args: argparse.Namespace) -> int:
    from drlab.common.device import resolve_device
    from drlab.common.io import load_checkpoint
    from drlab.common.rundir import claim_run_dir, inspect_run_dir
    from drlab.rl.dqn import check_checkpoint
    from drlab.rl.envs import make_dqn_env
    from drlab.rl.runs import CHECKPOINT_NAME, train_dqn_run

    typed = typed_options(args)
    config = dataclass_from_namespace(DQNConfig, argparse.Namespace(**typed))
    out = _out(args, "dqn", config.env, config.seed)
    inspect_run_dir(out, "dqn", resume=args.resume, force=args.force)
    if args.resume:
        config = merge_on_resume(read_dqn_config(Path(out)), typed, DQN_RESUMABLE, where=str(out))
    # check everything before claim_run_dir, which --force lets delete an earlier run
    config.check()
    resolve_device(config.device)
    env, observation_size, num_actions = make_dqn_env(config.env)
    env.close()
    config.check_machine(observation_size, num_actions)
    if args.resume:
        path = Path(out) / CHECKPOINT_NAME
        checkpoint = load_checkpoint(path)  # checksum checked: never resume garbage
        check_checkpoint(checkpoint, config, str(path))  # every field, before any file is rewritten
        done = checkpoint["step"]
        if done > config.total_steps:
            raise UsageError(
                f"--resume: the run in {out} has already trained {done:,} steps; --total-steps is the total, "
                f"so it must be ≥ {done} (got {config.total_steps})"
            )
        del checkpoint
    quiet = args.quiet
    with claim_run_dir(out, "dqn", resume=args.resume, force=args.force) as run:
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
        f"wrote {run.path}/: config.json, returns.csv, learning_curve.png, metrics.json, model.safetensors, "
        "final_model.safetensors, checkpoint.pt"
    )
    return 0


def read_dqn_config(run: Path) -> DQNConfig:
    """The :class:`DQNConfig` saved in ``run/config.json``, checked field by field."""
    from drlab.common.io import read_json

    path = run / "config.json"
    saved = read_json(path)
    if not isinstance(saved, dict) or saved.get("algorithm") != "dqn":
        raise UsageError(f"{run}: not a DQN run (config.json has no algorithm 'dqn')")
    return from_json(DQNConfig, saved.get("config"), str(path))


def run_evaluate(args: argparse.Namespace) -> int:
    from drlab.rl.evaluate import evaluate_greedy
    from drlab.rl.runs import load_run_model

    check_int("--episodes", args.episodes, 1, 1_000_000)
    check_seed(args.seed)
    check_seed(args.seed + args.episodes - 1, "--seed + --episodes - 1")
    if not Path(args.run).is_dir():
        raise UsageError(f"{args.run}: no such run directory")
    from drlab.common.rundir import require_run_kind

    require_run_kind(args.run, "dqn")  # a training run is named as such, with the command that reads it
    read_dqn_config(Path(args.run))  # a damaged config.json is one line here, not a traceback there
    q_network, config = load_run_model(args.run, args.model)
    evaluation = evaluate_greedy(q_network, config.env, args.episodes, args.seed)
    print(
        f"{args.run} ({args.model} model) on {config.env}: mean return {evaluation.mean:.1f} ± {evaluation.std:.1f} "
        f"over {args.episodes} greedy episodes (seeds {args.seed}..{args.seed + args.episodes - 1})"
    )
    print("returns: " + " ".join(f"{r:g}" for r in evaluation.returns))
    return 0
