"""PPO and A2C against Stable-Baselines3 2.9.2, with identical settings, alternated in the same run.

For each case (algorithm × environment) and seed, drlab and SB3 train with the same hyperparameters —
rl-baselines3-zoo's for that environment (``PPOConfig.for_env`` / ``A2CConfig.for_env``, which SB3 gets
translated), the same number of environment copies, the same networks (64-64 tanh, separate actor and
critic, orthogonal initialisation), one torch thread each. drlab's PPO runs *without* value clipping here,
since SB3's default has none. Both are evaluated greedily (10 episodes, the same start states, the same
evaluation code) at the first update after every ``--eval-every`` steps; evaluation time is excluded
from both speeds. The order alternates (drlab first, then SB3 first) so that both see the same load.

Reported: env steps per second of each (median over seeds), drlab/SB3, and the mean greedy return
reached at each evaluation step. ``--profile`` instead splits one run of each library into environment
stepping, the rollout's forward passes and the update (cProfile), to say where the time goes.

    .venv/bin/python benchmarks/pg.py --quick            # a smoke test: 1 seed, short runs (minutes)
    .venv/bin/python benchmarks/pg.py                    # 3 seeds, the budgets below (about an hour)
    .venv/bin/python benchmarks/pg.py --profile --quick  # where the time goes
    .venv/bin/python benchmarks/pg.py --cases ppo:CartPole-v1 --seeds 5 --save

Needs ``pip install -e '.[bench]'`` (stable-baselines3==2.9.2). The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record  # benchmarks/record.py: the RESULT line and --save

#: the cases and their full budgets (environment steps)
CASES = {
    "ppo:CartPole-v1": 100_000,
    "a2c:CartPole-v1": 100_000,
    "ppo:LunarLander-v3": 300_000,
    "a2c:LunarLander-v3": 200_000,
}
QUICK = {
    "ppo:CartPole-v1": 20_480,
    "a2c:CartPole-v1": 20_000,
    "ppo:LunarLander-v3": 32_768,
    "a2c:LunarLander-v3": 20_000,
}


def drlab_config(case: str, total_steps: int, seed: int, eval_every: int, threads: int) -> Any:
    from drlab.rl.config import A2CConfig, PPOConfig

    algorithm, env = case.split(":")
    common = {
        "total_steps": total_steps, "seed": seed, "eval_freq": eval_every, "eval_episodes": 10,
        "num_threads": threads, "device": "cpu",
    }  # fmt: skip
    if algorithm == "ppo":
        return PPOConfig.for_env(env, clip_value_loss=False, **common)  # SB3's default: no value clipping
    return A2CConfig.for_env(env, **common)


def run_drlab(case: str, total_steps: int, seed: int, eval_every: int, threads: int) -> dict[str, Any]:
    from drlab.rl import a2c, ppo

    config = drlab_config(case, total_steps, seed, eval_every, threads)
    module = ppo if case.startswith("ppo") else a2c
    result = module.train(config)
    m = result.metrics
    return {
        "library": "drlab",
        "case": case,
        "seed": seed,
        "steps_per_s": m.steps_per_second,
        "seconds": m.train_seconds,
        "evaluations": [(e.step, e.mean_return) for e in result.evaluations],
        "final_heldout": m.final_eval_mean_return,
    }


def sb3_model(case: str, total_steps: int, seed: int, threads: int) -> Any:
    """SB3's model with the settings of drlab's config for ``case``."""
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(threads)
    config = drlab_config(case, total_steps, seed, 0, threads)
    env = make_vec_env(config.env, n_envs=config.num_envs, seed=seed)

    def schedule(start: float, anneal: bool) -> Any:
        return (lambda remaining: start * remaining) if anneal else start

    common = {
        "n_steps": config.n_steps, "gamma": config.gamma, "gae_lambda": config.gae_lambda,
        "ent_coef": config.ent_coef, "vf_coef": config.vf_coef, "max_grad_norm": config.max_grad_norm,
        "learning_rate": schedule(config.lr, config.anneal_lr),
        "normalize_advantage": config.normalize_advantage,
        "policy_kwargs": {"net_arch": {"pi": list(config.hidden_sizes), "vf": list(config.hidden_sizes)}},
        "seed": seed, "device": "cpu",
    }  # fmt: skip
    if case.startswith("ppo"):
        return PPO(
            "MlpPolicy", env, batch_size=config.batch_size, n_epochs=config.n_epochs,
            clip_range=schedule(config.clip_range, config.anneal_clip_range), **common,
        )  # fmt: skip
    return A2C("MlpPolicy", env, use_rms_prop=config.optimizer == "rmsprop", rms_prop_eps=1e-5, **common)


def run_sb3(case: str, total_steps: int, seed: int, eval_every: int, threads: int) -> dict[str, Any]:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from drlab.rl.evaluate import HELD_OUT_SEED, SELECTION_SEED_OFFSET, evaluate_greedy

    env_id = case.split(":")[1]
    model = sb3_model(case, total_steps, seed, threads)
    discrete = hasattr(model.action_space, "n")

    class Greedy(torch.nn.Module):
        """SB3's deterministic policy as drlab's evaluation expects it: one-hot actions (or the actions)."""

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            actions = model.policy._predict(observations, deterministic=True)
            return (
                torch.nn.functional.one_hot(actions, int(model.action_space.n)).float()
                if discrete
                else actions
            )

    greedy = Greedy()

    class Evaluate(BaseCallback):
        """The same greedy evaluation as drlab's, at the first update after each eval_every steps."""

        def __init__(self) -> None:
            super().__init__()
            self.evaluations: list[tuple[int, float]] = []
            self.seconds, self.last = 0.0, 0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_start(self) -> None:  # the update of the last rollout is done: evaluate it
            self._evaluate_if_due()

        def _on_training_end(self) -> None:
            self._evaluate_if_due()

        def _evaluate_if_due(self) -> None:
            if eval_every > 0 and self.num_timesteps // eval_every > self.last // eval_every:
                started = time.perf_counter()
                mean = evaluate_greedy(greedy, env_id, 10, seed + SELECTION_SEED_OFFSET).mean
                self.evaluations.append((self.num_timesteps, mean))
                self.seconds += time.perf_counter() - started
            self.last = self.num_timesteps

    callback = Evaluate()
    started = time.perf_counter()
    model.learn(total_timesteps=total_steps, callback=callback)
    seconds = time.perf_counter() - started - callback.seconds
    return {
        "library": "sb3",
        "case": case,
        "seed": seed,
        "steps_per_s": model.num_timesteps / max(seconds, 1e-9),
        "seconds": seconds,
        "evaluations": callback.evaluations,
        "final_heldout": evaluate_greedy(greedy, env_id, 10, HELD_OUT_SEED).mean,
    }


def profile(case: str, total_steps: int, threads: int) -> dict[str, Any]:
    """Where the time of one run goes, for each library: environment steps, rollout, update (cProfile)."""
    splits: dict[str, Any] = {}
    for library in ("drlab", "sb3"):
        profiler = cProfile.Profile()
        if library == "drlab":
            from drlab.rl import a2c, ppo

            config = drlab_config(case, total_steps, 0, 0, threads)
            module = ppo if case.startswith("ppo") else a2c
            profiler.runcall(module.train, config)
            names = {"total": "train", "rollout": "collect_rollout", "env": "step", "update": "_update"}
            files = {
                "total": "drlab/rl",
                "rollout": "rollout.py",
                "env": "sync_vector_env.py",
                "update": "drlab/rl",
            }
        else:
            model = sb3_model(case, total_steps, 0, threads)
            profiler.runcall(model.learn, total_timesteps=total_steps)
            names = {"total": "learn", "rollout": "collect_rollouts", "env": "step_wait", "update": "train"}
            files = {
                "total": "on_policy_algorithm.py",
                "rollout": "on_policy_algorithm.py",
                "env": "dummy_vec_env.py",
                "update": "stable_baselines3",
            }
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        seconds = {}
        for part, name in names.items():
            seconds[part] = max(
                (cumulative for (file, _, function), (_, _, _, cumulative, _) in stats.items()
                 if function.endswith(name) and files[part] in file),
                default=0.0,
            )  # fmt: skip
        total = seconds["total"] or 1e-9
        splits[library] = {
            "seconds": round(total, 2),
            "env_stepping": round(seconds["env"] / total, 3),
            "rollout_forward_and_rest": round((seconds["rollout"] - seconds["env"]) / total, 3),
            "update": round(seconds["update"] / total, 3),
        }
        print(f"{library:>5} {case}: {splits[library]}", flush=True)
    return splits


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES), metavar="ALGO:ENV")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: 3; 1 with --quick)")
    parser.add_argument("--total-steps", type=int, default=None, help="override every case's budget")
    parser.add_argument(
        "--eval-every", type=int, default=None, help="steps between evaluations (default: budget/5)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 seed, short budgets: a smoke test")
    parser.add_argument("--profile", action="store_true", help="where the time goes, instead of the race")
    record.add_save_option(parser)
    args = parser.parse_args()
    budgets = QUICK if args.quick else CASES
    seeds = args.seeds or (1 if args.quick else 3)
    if args.profile:
        result = {
            "profile": {
                case: profile(case, args.total_steps or budgets[case], args.threads) for case in args.cases
            },
            "threads": args.threads,
        }
        record.emit("pg-profile", result, args.save)
        return
    rows: list[dict[str, Any]] = []
    for case in args.cases:
        total = args.total_steps or budgets[case]
        every = args.eval_every or max(total // 5, 1)
        for seed in range(seeds):
            order = (run_drlab, run_sb3) if seed % 2 == 0 else (run_sb3, run_drlab)
            for run in order:
                rows.append(run(case, total, seed, every, args.threads))
                row = rows[-1]
                evals = " ".join(f"{step}:{mean:.0f}" for step, mean in row["evaluations"])
                print(
                    f"{row['library']:>5} {case} seed {seed}: {row['steps_per_s']:7.0f} steps/s  "
                    f"evaluations {evals}  final held-out {row['final_heldout']:.1f}",
                    flush=True,
                )
    summary: dict[str, Any] = {}
    for case in args.cases:
        per = {}
        for library in ("drlab", "sb3"):
            mine = [r for r in rows if r["case"] == case and r["library"] == library]
            per[library] = {
                "steps_per_s_median": statistics.median(r["steps_per_s"] for r in mine),
                "evaluations": [r["evaluations"] for r in mine],
                "final_heldout": [r["final_heldout"] for r in mine],
            }
        per["speedup_vs_sb3"] = per["drlab"]["steps_per_s_median"] / per["sb3"]["steps_per_s_median"]
        summary[case] = per
        print(
            f"{case}: drlab {per['drlab']['steps_per_s_median']:.0f} steps/s, SB3 {per['sb3']['steps_per_s_median']:.0f}"
            f" steps/s: {per['speedup_vs_sb3']:.2f}x",
            flush=True,
        )
    result = {
        "seeds": seeds,
        "threads": args.threads,
        "budgets": {case: args.total_steps or budgets[case] for case in args.cases},
        "quick": args.quick,
        "cases": summary,
    }
    record.emit("pg", result, args.save)


if __name__ == "__main__":
    main()
