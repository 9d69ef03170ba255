"""The exploration schedule of ε-greedy: explore a lot at first, then less and less.

With probability ε the agent takes a random action (exploration), otherwise the action its Q-values
rank best (exploitation). ε starts at ``start`` (1.0: every action random) and falls in a straight
line to ``end`` over the first ``duration`` steps, then stays there.

DQN decays its learning rate along the same kind of line, over the whole run: from ``learning_rate``
at step 0 to ``final_learning_rate_fraction × learning_rate`` at the last step.
"""

from __future__ import annotations


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """The value at ``step`` of a line from ``start`` (step 0) to ``end`` (step ``duration`` and after).

    >>> linear_schedule(1.0, 0.04, 100, 0), linear_schedule(1.0, 0.0, 100, 50), linear_schedule(1.0, 0.04, 100, 500)
    (1.0, 0.5, 0.04)
    """
    if duration <= 0 or step >= duration:
        return end
    return start + (end - start) * max(step, 0) / duration
