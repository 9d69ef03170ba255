"""The learning goals of REINFORCE, A2C and PPO (issue 24): each command's defaults, per environment, per seed.

Every run is what ``drlab rl ALGO --env ENV --seed S`` does with its defaults (the environment's tuned
settings), in process, on one torch thread; returns are deterministic for a seed and a thread count, so
the figures can be measured on a busy machine. The kept model is the best-evaluated one (greedy, on the
selection start states); it is then re-evaluated on held-out start states, as ``drlab rl evaluate`` does.

Goals (a goal passes when its criterion holds; see GOALS):

- ppo-cartpole        PPO, CartPole-v1, 100k steps: kept model ≥ 475 for ≥ 4 of 5 seeds
- a2c-cartpole        A2C, CartPole-v1, 500k steps: kept model ≥ 475 for ≥ 4 of 5 seeds
- reinforce-cartpole  REINFORCE + baseline, 1,000 episodes: mean − std ≥ 350 over 100 held-out episodes,
                      ≥ 4 of 5 seeds (seed 0 is also `drlab rl reinforce` with no option: ≥ 400)
- ppo-lunarlander     PPO, LunarLander-v3, 1M steps: mean of 3 seeds ≥ 200
- ppo-acrobot         PPO, Acrobot-v1, 500k steps: ≥ −90
- ppo-pendulum        PPO, Pendulum-v1, 300k steps: ≥ −250

    nice -n 10 .venv/bin/python benchmarks/rl_learning.py --goals ppo-cartpole --save
    .venv/bin/python benchmarks/rl_learning.py --quick          # a smoke test: tiny budgets, 1 seed

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record  # benchmarks/record.py: the RESULT line and --save

#: goal → (algorithm, env, seeds, evaluation episodes of the kept model, criterion, threshold)
GOALS: dict[str, tuple[str, str, int, int, str, float]] = {
    "ppo-cartpole": ("ppo", "CartPole-v1", 5, 100, "mean", 475.0),
    "a2c-cartpole": ("a2c", "CartPole-v1", 5, 100, "mean", 475.0),
    "reinforce-cartpole": ("reinforce", "CartPole-v1", 5, 100, "mean-std", 350.0),
    "ppo-lunarlander": ("ppo", "LunarLander-v3", 3, 100, "mean-of-seeds", 200.0),
    "ppo-acrobot": ("ppo", "Acrobot-v1", 3, 100, "mean-of-seeds", -90.0),
    "ppo-pendulum": ("ppo", "Pendulum-v1", 3, 100, "mean-of-seeds", -250.0),
}


def run_goal(goal: str, quick: bool, seeds_asked: int | None = None) -> dict[str, Any]:
    from drlab.rl import a2c, ppo, reinforce
    from drlab.rl.config import A2CConfig, PPOConfig, ReinforceConfig
    from drlab.rl.evaluate import HELD_OUT_SEED, evaluate_greedy
    from drlab.rl.runs import network_builder

    algorithm, env, seeds, episodes, criterion, threshold = GOALS[goal]
    seeds = seeds_asked or seeds
    module: Any = {"ppo": ppo, "a2c": a2c, "reinforce": reinforce}[algorithm]
    config_class: Any = {"ppo": PPOConfig, "a2c": A2CConfig, "reinforce": ReinforceConfig}[algorithm]
    runs = []
    for seed in range(1 if quick else seeds):
        overrides: dict[str, Any] = {"seed": seed, "device": "cpu", "num_threads": 1}
        if quick:
            overrides |= {"episodes": 20} if algorithm == "reinforce" else {"total_steps": 4_096}
            overrides["eval_freq"] = 10 if algorithm == "reinforce" else 2_048
        config = config_class.for_env(env, **overrides)
        started = time.perf_counter()
        result = module.train(config)
        kept = network_builder(config)()
        kept.load_state_dict(result.best_state)
        evaluation = evaluate_greedy(kept, env, 10 if quick else episodes, HELD_OUT_SEED)
        m = result.metrics
        runs.append(
            {
                "seed": seed,
                "kept_mean": evaluation.mean,
                "kept_std": evaluation.std,
                "kept_mean_minus_std": evaluation.mean - evaluation.std,
                "final_heldout_mean": m.final_eval_mean_return,
                "best_selection_eval": m.best_selection_eval_mean_return,
                "first_step_reaching_threshold": m.first_step_reaching_threshold,
                "steps": m.steps,
                "episodes": m.episodes,
                "steps_per_second": m.steps_per_second,
                "seconds": time.perf_counter() - started,
            }
        )
        r = runs[-1]
        print(
            f"{goal} seed {seed}: kept {r['kept_mean']:.1f} ± {r['kept_std']:.1f} over {episodes} held-out "
            f"episodes, final {r['final_heldout_mean']:.1f}, best selection eval {r['best_selection_eval']}, "
            f"{r['steps']:,} steps, {r['episodes']:,} episodes, {r['seconds']:.0f} s",
            flush=True,
        )
    if criterion == "mean-of-seeds":
        value = statistics.mean(r["kept_mean"] for r in runs)
        passed = value >= threshold
        summary = f"mean over seeds {value:.1f} (goal ≥ {threshold:g})"
    else:
        key = "kept_mean" if criterion == "mean" else "kept_mean_minus_std"
        count = sum(r[key] >= threshold for r in runs)
        passed = count >= min(4, len(runs))
        summary = f"{count}/{len(runs)} seeds with {key} ≥ {threshold:g}"
    print(f"{goal}: {summary}: {'PASS' if passed else 'MISS'}", flush=True)
    return {
        "algorithm": algorithm,
        "env": env,
        "criterion": criterion,
        "threshold": threshold,
        "eval_episodes": episodes,
        "passed": passed,
        "summary": summary,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--goals", nargs="+", default=list(GOALS), choices=list(GOALS))
    parser.add_argument("--quick", action="store_true", help="tiny budgets, one seed: a smoke test")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: each goal's)")
    record.add_save_option(parser)
    args = parser.parse_args()
    result = {
        "quick": args.quick,
        "threads": 1,
        "goals": {goal: run_goal(goal, args.quick, args.seeds) for goal in args.goals},
    }
    record.emit("rl-learning", result, args.save)


if __name__ == "__main__":
    main()
