"""``drlab rl qlearning | dqn | reinforce | a2c | ppo | evaluate``: the RL wing's commands.

They parse options and call the library: :func:`drlab.rl.runs.train_run` is the whole job of a training
(check, claim the folder, start or resume, write). torch and gymnasium are imported lazily.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from drlab.common.config import (
    add_command,
    add_dataclass_arguments,
    add_old_spelling,
    add_run_options,
    check_int,
    check_seed,
    dataclass_from_namespace,
    mark_untyped,
    typed_options,
)
from drlab.common.errors import UsageError
from drlab.rl.config import DQNConfig, QLearningConfig

OUT_HELP = "run directory (default: runs/<algo>-<env>-seed<S>)"
RESUME_HELP = "continue the run in --out from its checkpoint"
HELD_OUT_SEED = 100_000  # kept equal to drlab.rl.evaluate.HELD_OUT_SEED (that module imports torch)

QLEARNING_EPILOG = """\
examples:
  drlab rl qlearning --no-slippery --episodes 300     deterministic FrozenLake: solved in seconds
  drlab rl qlearning                                  slippery FrozenLake 4x4 (~74% success is optimal-ish)
  drlab rl qlearning --env Taxi-v4 --episodes 3000 --lr 0.5
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

#: the policy-gradient commands: name, help, description (their configs and settings are in rl/config.py)
PG_COMMANDS = {
    "reinforce": (
        "REINFORCE: Monte-Carlo policy gradient, with a learned baseline (or --no-baseline)",
        "REINFORCE: play whole episodes with the policy, then push up the log-probability of each action "
        "by its return-to-go minus a learned baseline V(s). Counted in episodes (--episodes).",
    ),
    "a2c": (
        "A2C: advantage actor-critic, n-step returns / GAE(λ)",
        "A2C: num_envs copies of the environment, n_steps steps each, then one gradient step along the "
        "advantage (n-step return or GAE(λ) minus V(s)), the critic regressed on the returns.",
    ),
    "ppo": (
        "PPO: proximal policy optimisation (clipped objective), discrete or continuous actions",
        "PPO: rollouts of num_envs × n_steps steps, GAE(λ) advantages, then n_epochs passes of mini-batch "
        "steps on the clipped surrogate objective; the 13 core implementation details of Huang et al.",
    ),
}


def _pg_epilog(name: str) -> str:
    """The examples and the per-environment settings of a policy-gradient command, from its config."""
    config_class = _pg_config_class(name)
    budget = "--episodes 300" if name == "reinforce" else "--total-steps 20000"
    lines = [
        "examples:",
        f"  drlab rl {name}                                   CartPole-v1 with the tuned defaults below",
        f"  drlab rl {name} {budget} --out runs/try    a quick look",
        f"  drlab rl {name} --out runs/try --resume            continue a run from its checkpoint",
        f"  drlab rl {name} --env LunarLander-v3             another environment: its tuned settings",
        "  drlab rl evaluate runs/try --gif try.gif          re-evaluate the kept model, and watch it",
        "",
        "settings per environment (options given on the command line win):",
    ]
    for env, settings in config_class.SETTINGS.items():
        shown = ", ".join(f"{key}={value}" for key, value in settings.items())
        lines.append(f"  {env}: {shown}")
    lines += [
        "",
        "run directory: config.json, returns.csv, updates.csv (losses, entropy, approx_kl, clip fraction,",
        "explained variance per update), learning_curve.png, metrics.json, model.safetensors (kept:",
        "best-evaluated), final_model.safetensors, checkpoint.pt (to resume exactly).",
    ]
    return "\n".join(lines) + "\n"


def _pg_config_class(name: str) -> type[Any]:
    from drlab.rl.config import A2CConfig, PPOConfig, ReinforceConfig

    return {"reinforce": ReinforceConfig, "a2c": A2CConfig, "ppo": PPOConfig}[name]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``drlab rl`` and its sub-commands."""
    rl = add_command(
        subparsers,
        "rl",
        help="reinforcement learning: Q-learning, DQN, REINFORCE, A2C, PPO",
        description="Reinforcement learning, where the course goes next: the Q-learning recap, deep "
        "Q-learning, then the policy-gradient methods (REINFORCE, A2C, PPO).",
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
    add_old_spelling(qlearning, "--learning-rate", "lr", float)  # drlab ≤ 0.1; --lr is every wing's name
    add_run_options(qlearning, out=OUT_HELP, resume=None)
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
    add_old_spelling(dqn, "--learning-rate", "lr", float)
    mark_untyped(dqn, DQNConfig)  # --resume must know what was typed, not what equals a default
    add_run_options(dqn, out=OUT_HELP, resume=RESUME_HELP)
    dqn.set_defaults(handler=run_training, algorithm="dqn")

    for name, (help_text, description) in PG_COMMANDS.items():
        config_class = _pg_config_class(name)
        command = add_command(
            commands, name, help=help_text, description=description, epilog=_pg_epilog(name)
        )
        add_dataclass_arguments(command, config_class)
        mark_untyped(command, config_class)  # the environment's settings apply to what is not typed
        add_run_options(command, out=OUT_HELP, resume=RESUME_HELP)
        command.set_defaults(handler=run_training, algorithm=name)

    evaluate = add_command(
        commands,
        "evaluate",
        help="re-evaluate the model of a DQN, REINFORCE, A2C or PPO run greedily (and watch it: --gif)",
        description="Play the greedy policy of a run's model (no exploration) and report its mean return; "
        "--gif also draws one episode as an animated GIF.",
    )
    evaluate.add_argument(
        "run", metavar="RUN", help="the run directory written by `drlab rl dqn|reinforce|a2c|ppo`"
    )
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
    evaluate.add_argument(
        "--gif",
        metavar="FILE.gif",
        default=None,
        help="also draw the episode starting from reset(seed=--seed) as an animated GIF (needs pygame)",
    )
    evaluate.set_defaults(handler=run_evaluate)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


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


def run_training(args: argparse.Namespace) -> int:
    """``drlab rl dqn|reinforce|a2c|ppo``: build the config (the environment's settings, then the options
    typed), then :func:`drlab.rl.runs.train_run` does the rest."""
    from drlab.rl.runs import SPECS, resume_config, train_run

    algorithm: str = args.algorithm
    typed = typed_options(args)
    for name in ("algorithm", "handler", "out", "force", "resume", "quiet"):
        typed.pop(name, None)
    config_class = SPECS[algorithm].config_class
    out = _out(args, algorithm, typed.get("env", config_class.env), typed.get("seed", config_class.seed))
    if args.resume:  # the saved config, with what was typed on top (refused if it changes the learning)
        config = resume_config(out, algorithm, typed)
    elif hasattr(config_class, "for_env"):  # the environment's tuned settings, with what was typed on top
        config = config_class.for_env(typed.pop("env", config_class.env), **typed)
    else:
        config = config_class(**typed)
    quiet = args.quiet
    result = train_run(
        config, out, resume=args.resume, force=args.force,
        progress=not quiet and sys.stderr.isatty(), log=None if quiet else print,
    )  # fmt: skip
    m = result.metrics
    label = SPECS[algorithm].label
    print(
        f"{label} on {config.env}: {m.steps:,} steps, {m.episodes:,} episodes in {m.seconds:.1f} s "
        f"({m.steps_per_second:.0f} steps/s training); kept model ({m.kept_model}): {m.eval_mean_return:.1f} ± "
        f"{m.eval_std_return:.1f} over {m.eval_episodes} held-out episodes; final model: {m.final_eval_mean_return:.1f}"
    )
    extra = "updates.csv, " if algorithm != "dqn" else ""
    print(
        f"wrote {out}/: config.json, returns.csv, {extra}learning_curve.png, metrics.json, model.safetensors, "
        "final_model.safetensors, checkpoint.pt"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from drlab.common.runfiles import inspect_output_folder
    from drlab.rl.evaluate import evaluate_greedy, record_episode, write_gif
    from drlab.rl.runs import load_run_model, read_run_config

    check_int("--episodes", args.episodes, 1, 1_000_000)
    check_seed(args.seed)
    check_seed(args.seed + args.episodes - 1, "--seed + --episodes - 1")
    if args.gif is not None and not str(args.gif).lower().endswith(".gif"):
        raise UsageError(f"--gif {args.gif}: the file name must end in .gif")
    if not Path(args.run).is_dir():
        raise UsageError(f"{args.run}: no such run directory")
    read_run_config(Path(args.run))  # a damaged config.json is one line here, not a traceback there
    network, config = load_run_model(args.run, args.model)
    if args.gif is not None:  # refused before the evaluation runs: a file drlab did not write stays
        gif = Path(args.gif)
        inspect_output_folder(gif.parent, [gif.name], option="--gif")
    evaluation = evaluate_greedy(network, config.env, args.episodes, args.seed)
    print(
        f"{args.run} ({args.model} model) on {config.env}: mean return {evaluation.mean:.1f} ± {evaluation.std:.1f} "
        f"over {args.episodes} greedy episodes (seeds {args.seed}..{args.seed + args.episodes - 1})"
    )
    print("returns: " + " ".join(f"{r:g}" for r in evaluation.returns))
    if args.gif is not None:
        frames, episode_return, length = record_episode(network, config.env, args.seed)
        write_gif(frames, args.gif)
        print(f"wrote {args.gif}: {length} steps, return {episode_return:g} (reset seed {args.seed})")
    return 0
