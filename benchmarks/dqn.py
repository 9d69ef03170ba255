"""DQN on CartPole-v1: sample efficiency, stability and speed, against Stable-Baselines3 in the same run.

For each seed, drlab's DQN trains with its defaults (the rl-zoo settings) and is evaluated greedily every
2,500 steps on 20 episodes; the best-evaluated model is kept and then re-evaluated, as
``drlab rl evaluate`` does, on 10 held-out start states. With ``--sb3``, SB3's DQN trains with the same
hyperparameters (the zoo's, plus drlab's linear learning-rate decay: ``--set final_lr_fraction=1``
gives both the zoo's constant rate) and the same evaluation schedule; evaluation time (and drlab's checkpoint
time) is excluded from both speeds, and both run on the same number of torch threads.

Issue 7's targets: greedy mean ≥ 475 within 50k steps for ≥ 4 of 5 seeds, the kept model ≥ 475 on
re-evaluation, and drlab's env steps/s ≥ 1.5 × SB3's.

    .venv/bin/python benchmarks/dqn.py --sb3                # 5 seeds x 50k steps, both libraries (long)
    .venv/bin/python benchmarks/dqn.py --quick              # a smoke test, seconds
    .venv/bin/python benchmarks/dqn.py --sb3 --jobs 10      # seeds in parallel (only on a many-core machine)

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import record  # benchmarks/record.py: the RESULT line and --save

THRESHOLD = 475.0


def run_drlab(
    seed: int, total_steps: int, threads: int, eval_freq: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    from drlab.rl.config import DQNConfig
    from drlab.rl.evaluate import HELD_OUT_SEED, evaluate_greedy
    from drlab.rl.runs import load_run_model, train_run

    config = DQNConfig(
        seed=seed, total_steps=total_steps, num_threads=threads, eval_freq=eval_freq, **overrides
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = train_run(config, Path(tmp) / "run")
        # what `drlab rl evaluate RUN` does: load the kept model, 10 greedy episodes on held-out seeds
        kept, _ = load_run_model(Path(tmp) / "run", "best")
        reevaluation = evaluate_greedy(kept, config.env, 10, HELD_OUT_SEED)
    m = result.metrics
    evals = result.evaluations
    return {
        "library": "drlab",
        "seed": seed,
        "steps_per_s": m.steps_per_second,
        "seconds": m.seconds,
        "first_step_ge_475": m.first_step_reaching_threshold,
        "best_eval": m.best_selection_eval_mean_return,
        "final_eval": evals[-1].mean_return if evals else None,
        "kept_reeval": reevaluation.mean,
        "final_model_heldout": m.final_eval_mean_return,
    }


def run_sb3(
    seed: int, total_steps: int, threads: int, eval_freq: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from drlab.rl.evaluate import HELD_OUT_SEED, SELECTION_SEED_OFFSET, evaluate_greedy

    torch.set_num_threads(threads)

    class Evaluate(BaseCallback):
        """The same greedy evaluation as drlab's, every eval_freq steps; its time is subtracted."""

        def __init__(self) -> None:
            super().__init__()
            self.evals: list[tuple[int, float]] = []
            self.seconds = 0.0
            self.best = -1.0
            self.best_state: dict[str, torch.Tensor] = {}

        def _on_step(self) -> bool:
            if eval_freq > 0 and self.num_timesteps % eval_freq == 0:
                started = time.perf_counter()
                q_net = self.model.q_net
                mean = evaluate_greedy(q_net, "CartPole-v1", 20, seed + SELECTION_SEED_OFFSET).mean
                self.evals.append((self.num_timesteps, mean))
                if mean >= self.best:
                    self.best = mean
                    self.best_state = {k: v.clone() for k, v in q_net.state_dict().items()}
                self.seconds += time.perf_counter() - started
            return True

    from drlab.rl.config import DQNConfig

    # the same learning-rate schedule as drlab's config (SB3 calls it with progress_remaining: 1 → 0)
    config = DQNConfig(**{k: v for k, v in overrides.items() if k == "final_lr_fraction"})
    lr, fraction = config.lr, config.final_lr_fraction

    def learning_rate(progress_remaining: float) -> float:
        return lr * (fraction + (1.0 - fraction) * progress_remaining)

    env = gym.make("CartPole-v1")
    model = DQN(
        "MlpPolicy",
        env,
        learning_rate=learning_rate,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1_000,
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs={"net_arch": [256, 256]},
        seed=seed,
        device="cpu",
    )
    callback = Evaluate()
    started = time.perf_counter()
    model.learn(total_timesteps=total_steps, callback=callback)
    seconds = time.perf_counter() - started
    first = next((step for step, mean in callback.evals if mean >= THRESHOLD), None)
    final_heldout = evaluate_greedy(model.q_net, "CartPole-v1", 10, HELD_OUT_SEED).mean
    kept_reeval = None
    if callback.best_state:  # SB3 with the same keep-the-best rule, for a like-for-like comparison
        model.q_net.load_state_dict(callback.best_state)
        kept_reeval = evaluate_greedy(model.q_net, "CartPole-v1", 10, HELD_OUT_SEED).mean
    return {
        "library": "sb3",
        "seed": seed,
        "steps_per_s": total_steps / max(seconds - callback.seconds, 1e-9),
        "seconds": seconds,
        "first_step_ge_475": first,
        "best_eval": callback.best if callback.evals else None,
        "final_eval": callback.evals[-1][1] if callback.evals else None,
        "kept_reeval": kept_reeval,
        "final_model_heldout": final_heldout,
    }


def _run(job: tuple[str, int, int, int, int, dict[str, Any]]) -> dict[str, Any]:
    library, seed, total_steps, threads, eval_freq, overrides = job
    return (run_drlab if library == "drlab" else run_sb3)(seed, total_steps, threads, eval_freq, overrides)


def _parse_override(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--total-steps", type=int, default=50_000)
    parser.add_argument("--eval-freq", type=int, default=2_500)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both libraries")
    parser.add_argument("--sb3", action="store_true", help="also train SB3's DQN with the same settings")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (needs idle cores)")
    parser.add_argument("--quick", action="store_true", help="1 seed x 3,000 steps: a smoke test")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a DQNConfig field for drlab's runs (repeatable), e.g. --set tau=0.5",
    )
    parser.add_argument("--first-seed", type=int, default=0)
    record.add_save_option(parser)
    args = parser.parse_args()
    overrides = dict(_parse_override(text) for text in args.set)
    if args.quick:
        args.seeds, args.total_steps, args.eval_freq = 1, 3_000, 1_000

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [("drlab", seed, args.total_steps, args.threads, args.eval_freq, overrides) for seed in seeds]
    if args.sb3:  # interleaved, so that both libraries see the same machine load over time
        jobs = [job for drlab_job in jobs for job in (drlab_job, ("sb3", *drlab_job[1:]))]
    print(
        f"DQN CartPole-v1: {args.seeds} seed(s) x {args.total_steps:,} steps, {args.threads} torch thread(s), "
        f"{args.jobs} job(s) at a time",
        flush=True,
    )
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_run, jobs))
    else:
        results = []
        for job in jobs:
            results.append(_run(job))
            _print_row(results[-1])
    if args.jobs > 1:
        for row in results:
            _print_row(row)

    def summary(library: str) -> dict[str, Any]:
        rows = [r for r in results if r["library"] == library]
        if not rows:
            return {}
        return {
            "steps_per_s_median": statistics.median(r["steps_per_s"] for r in rows),
            "seeds_reaching_475": sum(r["first_step_ge_475"] is not None for r in rows),
            "first_steps_ge_475": [r["first_step_ge_475"] for r in rows],
            "kept_model_reeval": [r["kept_reeval"] for r in rows],
            "kept_model_ge_475": sum((r["kept_reeval"] or 0) >= THRESHOLD for r in rows),
            "final_model_heldout": [r["final_model_heldout"] for r in rows],
        }

    result: dict[str, Any] = {
        "seeds": args.seeds,
        "total_steps": args.total_steps,
        "threads": args.threads,
        "jobs": args.jobs,
        "overrides": overrides,
        "drlab": summary("drlab"),
    }
    if args.sb3:
        result["sb3"] = summary("sb3")
        result["speedup_vs_sb3"] = result["drlab"]["steps_per_s_median"] / result["sb3"]["steps_per_s_median"]
    d = result["drlab"]
    print(
        f"drlab: {d['seeds_reaching_475']}/{args.seeds} seeds reached ≥ {THRESHOLD:g}; kept model ≥ {THRESHOLD:g} "
        f"on re-evaluation for {d['kept_model_ge_475']}/{args.seeds}; {d['steps_per_s_median']:.0f} steps/s (median)"
    )
    if args.sb3:
        s = result["sb3"]
        print(
            f"sb3:   {s['seeds_reaching_475']}/{args.seeds} seeds reached ≥ {THRESHOLD:g}; "
            f"{s['steps_per_s_median']:.0f} steps/s; drlab/sb3 speed: {result['speedup_vs_sb3']:.2f}x"
        )
    record.emit("dqn", result, args.save)


def _print_row(row: dict[str, Any]) -> None:
    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)

    print(
        f"{row['library']:>5} seed {row['seed']}: {row['steps_per_s']:6.0f} steps/s ({row['seconds']:.1f} s)  "
        f"first ≥475 at {fmt(row['first_step_ge_475']):>6}  best eval {fmt(row['best_eval']):>6}  "
        f"last eval {fmt(row['final_eval']):>6}  kept re-eval {fmt(row['kept_reeval']):>6}  "
        f"final model held-out {fmt(row['final_model_heldout']):>6}",
        flush=True,
    )


if __name__ == "__main__":
    main()
