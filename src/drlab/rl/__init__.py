"""Deep reinforcement learning, where the course goes next ("apprentissage par renforcement").

Read in this order:

- :mod:`drlab.rl.qlearning` — the recap: tabular Q-learning, the Bellman update written out;
- :mod:`drlab.rl.schedules` — the linear ε schedule of ε-greedy exploration;
- :mod:`drlab.rl.buffer` — the replay buffer ("mémoire de rejeu") DQN samples its batches from;
- :mod:`drlab.rl.dqn` — deep Q-learning in one file, top to bottom;
- :mod:`drlab.rl.reinforce` — the Monte-Carlo policy gradient, with and without a baseline;
- :mod:`drlab.rl.a2c` — advantage actor-critic: n-step returns, GAE(λ);
- :mod:`drlab.rl.ppo` — proximal policy optimisation, its 13 core implementation details named in place.

What the algorithms share: :mod:`drlab.rl.policies` (the policy and value networks),
:mod:`drlab.rl.rollout` (the training state of the policy-gradient methods, the rollout, GAE, reward
scaling), :mod:`drlab.rl.vecenv` (gymnasium's vector environments, and how a checkpoint saves episodes in
flight), :mod:`drlab.rl.training` (optimizer, threads, resume, keeping the best model),
:mod:`drlab.rl.evaluate` (greedy evaluation, the final figures, a GIF of an episode). :mod:`drlab.rl.envs`
makes and checks environments, :mod:`drlab.rl.records` types what a run records, :mod:`drlab.rl.plots`
draws, :mod:`drlab.rl.runs` is the one way to run a training into a folder (:func:`drlab.rl.runs.train_run`)
and reads a model back, :mod:`drlab.rl.config` holds the typed configs (torch-free, so that the CLI answers
at once), and :mod:`drlab.rl.cli` adds ``drlab rl qlearning|dqn|reinforce|a2c|ppo|evaluate``.

Imports flow one way: ``cli`` → ``runs`` → the algorithms → ``rollout``/``policies``/``vecenv``/``training``
→ ``evaluate``/``buffer``/``schedules``/``envs`` → ``records``/``config``.
"""

from drlab.rl.config import A2CConfig, DQNConfig, PPOConfig, QLearningConfig, ReinforceConfig

__all__ = ["A2CConfig", "DQNConfig", "PPOConfig", "QLearningConfig", "ReinforceConfig"]
