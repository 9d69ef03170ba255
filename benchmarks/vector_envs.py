"""envpool against drlab's gymnasium vector environments: raw environment steps per second, random actions.

drlab steps its environment copies with ``gymnasium.vector.SyncVectorEnv`` (with RecordEpisodeStatistics
and the wrapper that lets a checkpoint rebuild the episodes in flight, :mod:`drlab.rl.vecenv`). envpool
(PyPI) steps them in C++. This measures what envpool would save on the environment part of a run, the
two alternated in one process, the same number of copies, random actions (no policy).

    .venv/bin/python benchmarks/vector_envs.py        # needs `pip install envpool` (not a drlab dependency)
    .venv/bin/python benchmarks/vector_envs.py --quick

The last line printed is ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import record  # benchmarks/record.py: the RESULT line and --save

#: environment, copies (the zoo's PPO settings), vector steps per measurement
CASES = (
    ("CartPole-v1", 8, 2_000),
    ("Acrobot-v1", 16, 500),
    ("LunarLander-v3", 16, 500),
    ("Pendulum-v1", 4, 2_000),
)


def random_actions(space: Any, copies: int, rng: np.random.Generator) -> Any:
    if hasattr(space, "n"):
        return rng.integers(0, int(space.n), size=copies)
    return rng.uniform(space.low, space.high, size=(copies, *space.shape)).astype(np.float32)


def steps_per_second_drlab(env_id: str, copies: int, steps: int) -> float:
    from drlab.rl.vecenv import make_vector_env

    envs = make_vector_env(env_id, copies)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(steps):
        envs.step(random_actions(envs.single_action_space, copies, rng))
    seconds = time.perf_counter() - started
    envs.close()
    return copies * steps / seconds


def steps_per_second_envpool(env_id: str, copies: int, steps: int) -> float:
    import envpool

    envs = envpool.make_gymnasium(env_id, num_envs=copies, seed=0)
    envs.reset()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(steps):
        envs.step(random_actions(envs.action_space, copies, rng))
    seconds = time.perf_counter() - started
    envs.close()
    return copies * steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="alternated measurements per environment")
    parser.add_argument("--quick", action="store_true", help="one measurement, a tenth of the steps")
    record.add_save_option(parser)
    args = parser.parse_args()
    import envpool

    repeats = 1 if args.quick else args.repeats
    result: dict[str, Any] = {"envpool": envpool.__version__, "repeats": repeats, "envs": {}}
    for env_id, copies, steps in CASES:
        steps = steps // 10 if args.quick else steps
        drlab, pool = [], []
        for _ in range(repeats):
            drlab.append(steps_per_second_drlab(env_id, copies, steps))
            pool.append(steps_per_second_envpool(env_id, copies, steps))
        row = {
            "copies": copies,
            "drlab_steps_per_s": statistics.median(drlab),
            "envpool_steps_per_s": statistics.median(pool),
        }
        row["envpool_speedup"] = row["envpool_steps_per_s"] / row["drlab_steps_per_s"]
        result["envs"][env_id] = row
        print(
            f"{env_id} × {copies}: drlab (gymnasium) {row['drlab_steps_per_s']:,.0f} steps/s, envpool "
            f"{row['envpool_steps_per_s']:,.0f} steps/s: {row['envpool_speedup']:.2f}x",
            flush=True,
        )
    record.emit("vector-envs", result, args.save)


if __name__ == "__main__":
    main()
