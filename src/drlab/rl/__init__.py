"""Deep reinforcement learning, where the course goes next ("apprentissage par renforcement").

Read in this order:

- :mod:`drlab.rl.qlearning` — the recap: tabular Q-learning, the Bellman update written out;
- :mod:`drlab.rl.schedules` — the linear ε schedule of ε-greedy exploration;
- :mod:`drlab.rl.buffer` — the replay buffer ("mémoire de rejeu") DQN samples its batches from;
- :mod:`drlab.rl.dqn` — deep Q-learning in one file, top to bottom;
- :mod:`drlab.rl.evaluate` — greedy evaluation of a trained Q-network.

:mod:`drlab.rl.envs` makes and checks the gymnasium environments, :mod:`drlab.rl.records` types what a
run records, :mod:`drlab.rl.plots` draws the learning curves and Q-tables, :mod:`drlab.rl.runs` writes a
run's folder and reads its model back, :mod:`drlab.rl.config` holds the typed configs (torch-free, so that
the CLI answers at once), and :mod:`drlab.rl.cli` adds ``drlab rl qlearning|dqn|evaluate``.

Imports flow one way: ``cli`` → ``runs`` → ``dqn``/``qlearning``/``plots`` → ``evaluate``/``buffer``/
``schedules``/``envs`` → ``records``/``config``.
"""

from drlab.rl.config import DQNConfig, QLearningConfig

__all__ = ["DQNConfig", "QLearningConfig"]
