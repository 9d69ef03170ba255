"""Greedy evaluation of a trained policy, the final figures of a run, and a picture of one episode.

**Greedy** means no exploration: a DQN plays the action of highest Q-value; a policy-gradient agent the
action its policy finds most likely (the argmax of its logits), or its Gaussian's mean, clipped to the
action space. Any ``nn.Module`` from observations to "preferences" (Q-values, logits) or to actions
(continuous) can be evaluated: this module knows no algorithm, the algorithms import it.

The episodes are played side by side, one environment each: every step, one forward pass on the
observations of all episodes still running chooses all their actions at once. Episode ``i`` starts from
``reset(seed=seed + i)``, so an evaluation is a fixed, reproducible set of start states.

Seeds: during training the model is *selected* on start states ``train seed + 10_000 + i``; the
default ``drlab rl evaluate`` seed, :data:`HELD_OUT_SEED`, gives start states never used for that
choice, so its score is an honest re-evaluation of the kept model.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from drlab.common.errors import UsageError
from drlab.rl.envs import make_env
from drlab.rl.records import EvaluationRecord, RunMetrics

HELD_OUT_SEED = 100_000
"""first reset seed of ``drlab rl evaluate`` (start states the model was not selected on)"""
SELECTION_SEED_OFFSET = 10_000
"""training evaluations start from reset(seed=train_seed + SELECTION_SEED_OFFSET + i)"""


@dataclass(frozen=True)
class Evaluation:
    """The result of a greedy evaluation."""

    returns: NDArray[np.float64]
    """the return of each episode"""
    lengths: NDArray[np.int64]
    """the number of steps of each episode"""

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std())


def greedy_actions(outputs: torch.Tensor, action_space: Any) -> NDArray[Any]:
    """The greedy actions for a batch of network outputs: the argmax (discrete), or the outputs clipped to
    the action space's bounds (continuous: the Gaussian's mean)."""
    from gymnasium.spaces import Discrete

    if isinstance(action_space, Discrete):
        return outputs.argmax(dim=1).cpu().numpy()
    return np.clip(outputs.cpu().numpy(), action_space.low, action_space.high)


def evaluate_greedy(
    policy: torch.nn.Module,
    env_id: str,
    episodes: int = 10,
    seed: int = HELD_OUT_SEED,
    device: torch.device | str = "cpu",
    max_steps: int = 100_000,
) -> Evaluation:
    """Play ``episodes`` greedy episodes of ``env_id`` in lockstep and return their returns and lengths."""
    if episodes <= 0:
        raise UsageError(f"the number of evaluation episodes must be positive, got {episodes}")
    envs = [make_env(env_id) for _ in range(episodes)]
    observations = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]).astype(np.float32)
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    running = list(range(episodes))  # the episodes not finished yet
    was_training = policy.training
    policy.eval()
    with torch.inference_mode():
        for _ in range(max_steps):
            if not running:
                break
            outputs = policy(torch.from_numpy(observations[running]).to(device))
            actions = greedy_actions(outputs, envs[0].action_space)  # one device→host copy for all
            still_running = []
            for i, action in zip(running, actions, strict=True):
                observation, reward, terminated, truncated, _ = envs[i].step(action)
                observations[i] = observation
                returns[i] += float(reward)
                lengths[i] += 1
                if not (terminated or truncated):
                    still_running.append(i)
            running = still_running
    policy.train(was_training)
    for env in envs:
        env.close()
    return Evaluation(returns=returns, lengths=lengths)


def final_metrics(
    env_id: str,
    kept: torch.nn.Module | None,
    final: torch.nn.Module,
    evaluations: Sequence[EvaluationRecord],
    *,
    eval_episodes: int,
    steps: int,
    start_step: int,
    episodes: int,
    timing: tuple[float, float, float],
    device: torch.device,
) -> RunMetrics:
    """Measure the kept model (``None``: nothing was evaluated, the final one is kept) and the final one on
    held-out start states, and compute every figure of ``metrics.json``, once, for any algorithm.

    ``timing`` is (seconds of the loop, of which in evaluations, of which in checkpoints).
    """
    env = make_env(env_id)
    threshold = env.spec.reward_threshold if env.spec is not None else None
    env.close()
    count = max(eval_episodes, 10)
    final_evaluation = evaluate_greedy(final, env_id, count, HELD_OUT_SEED, device)
    held_out = (
        final_evaluation if kept is None else evaluate_greedy(kept, env_id, count, HELD_OUT_SEED, device)
    )
    seconds, eval_seconds, checkpoint_seconds = timing
    train_seconds = max(seconds - eval_seconds - checkpoint_seconds, 1e-9)
    solved = [e.step for e in evaluations if threshold is not None and e.mean_return >= threshold]
    return RunMetrics(
        env=env_id,
        kept_model="best" if kept is not None else "final",
        eval_mean_return=held_out.mean,
        eval_std_return=held_out.std,
        eval_episodes=count,
        eval_seed=HELD_OUT_SEED,
        final_eval_mean_return=final_evaluation.mean,
        final_eval_std_return=final_evaluation.std,
        best_selection_eval_mean_return=max(e.mean_return for e in evaluations) if evaluations else None,
        first_step_reaching_threshold=solved[0] if solved else None,
        reward_threshold=threshold,
        steps=steps,
        steps_this_session=steps - start_step,
        episodes=episodes,
        seconds=seconds,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        checkpoint_seconds=checkpoint_seconds,
        steps_per_second=(steps - start_step) / train_seconds,
        device=str(device),
    )


# --- A picture of the policy: one episode as an animated GIF ---------------------------------------------
def record_episode(
    policy: torch.nn.Module, env_id: str, seed: int = HELD_OUT_SEED, max_frames: int = 1_000
) -> tuple[list[NDArray[np.uint8]], float, int]:
    """Play one greedy episode with ``render_mode="rgb_array"``; return its frames, return and length."""
    # gymnasium draws with pygame (SDL): off-screen, without its greeting, and without SDL's complaints
    # about a missing display or sound server on stderr (where they read like drlab's own errors)
    for name, value in (
        ("SDL_VIDEODRIVER", "dummy"),
        ("SDL_AUDIODRIVER", "dummy"),
        ("PYGAME_HIDE_SUPPORT_PROMPT", "1"),
    ):
        os.environ.setdefault(name, value)
    env = make_env(env_id, render_mode="rgb_array")
    try:
        observation, _ = env.reset(seed=seed)
        frames = [np.asarray(env.render())]
        episode_return, length, done = 0.0, 0, False
        was_training = policy.training
        policy.eval()
        with torch.inference_mode():
            while not done and length < max_frames:
                outputs = policy(torch.as_tensor(np.asarray(observation, dtype=np.float32))[None])
                action = greedy_actions(outputs, env.action_space)[0]
                observation, reward, terminated, truncated, _ = env.step(action)
                frames.append(np.asarray(env.render()))
                episode_return, length, done = (
                    episode_return + float(reward),
                    length + 1,
                    terminated or truncated,
                )
        policy.train(was_training)
    except ImportError as exc:  # gymnasium draws its classic-control and Box2D scenes with pygame
        raise UsageError(f"cannot draw {env_id}: {exc} (pip install pygame)") from exc
    finally:
        env.close()
    return frames, episode_return, length


def gif_bytes(frames: Sequence[NDArray[np.uint8]], fps: float = 30.0, scale: float = 0.5) -> bytes:
    """The frames as an animated GIF (Pillow), scaled by ``scale``, played at ``fps`` frames per second."""
    from PIL import Image

    images = []
    for frame in frames:
        image = Image.fromarray(frame)
        if scale != 1.0:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS)
        images.append(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=128))
    buffer = io.BytesIO()
    duration = max(20, round(1000 / fps))  # milliseconds per frame; GIF viewers floor below 20
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return buffer.getvalue()


def write_gif(frames: Sequence[NDArray[np.uint8]], path: str | Path, fps: float = 30.0) -> None:
    """Write the frames to ``path`` as a GIF, through the folder's record of what drlab wrote there: a
    file drlab did not write is never replaced (:func:`drlab.common.runfiles.claim_output_folder`)."""
    from drlab.common.runfiles import claim_output_folder

    target = Path(path)
    data = gif_bytes(frames, fps)
    with claim_output_folder(target.parent, [target.name], option="--gif") as folder:
        folder.write({target.name: data})
