"""TP1's contract, as the notebook states it: the names a student defines, where, and the bars they meet.

- ``class Net(nn.Module)``, built as ``Net()``, mapping images ``(B, 1, 28, 28)`` to ``(B, 10)`` *logits*;
- ``train_one_epoch(model, batches, optimizer, loss_fn) -> float``: one epoch ("époque") of the lecture's
  four steps over ``batches``, returning the mean batch loss;
- ``evaluate(model, x, y) -> float``: the accuracy of ``model`` on ``(x, y)``, a fraction in [0, 1];
- ``loss_fn(logits, y_batch)``: the loss of a classification, the cross-entropy of the logits;
- ``model``, the trained ``Net``, and ``test_accuracy = evaluate(model, x_test, y_test)``.
"""

from __future__ import annotations

from drlab.check.harvest import CONTRACT, NUM_CLASSES

__all__ = [
    "CNN_PARAMETERS", "CONTRACT", "IMAGE_SHAPE", "MIN_TEST_ACCURACY", "MLP_PARAMETERS", "NORMALISED_MEAN",
    "NORMALISED_STD", "NUM_CLASSES", "PARAMETER_RANGE", "SOFTMAX_REGRESSION_PARAMETERS", "SOLUTION_ACCURACY",
    "TINY_MIN_TEST_ACCURACY", "WHERE", "min_test_accuracy",
]  # fmt: skip

IMAGE_SHAPE = (1, 28, 28)
#: a sane model for TP1: more than a handful of weights, less than a laptop CPU can train in a session
PARAMETER_RANGE = (1_000, 5_000_000)
#: the smallest classifier of the course, one nn.Linear(784, 10): 784 × 10 weights and 10 biases
SOFTMAX_REGRESSION_PARAMETERS = 7_850
#: a 784-256-128-10 MLP: 784 × 256 + 256 + 256 × 128 + 128 + 128 × 10 + 10 weights
MLP_PARAMETERS = 235_146
#: a small CNN of TP1 (two conv blocks, two linear layers) has this many weights, give or take
CNN_PARAMETERS = (100_000, 500_000)
#: the test accuracy of the solution's small CNN on Fashion-MNIST, full budget (docs/benchmarks.md)
SOLUTION_ACCURACY = 0.92
#: test accuracy to beat with the full budget; the solution's CNN reaches ≥ 0.92 on Fashion-MNIST
MIN_TEST_ACCURACY = {"fashion-mnist": 0.85, "digits": 0.95}
#: with the tiny budget (CI, a quick look) the bar is only "clearly better than chance" (0.1)
TINY_MIN_TEST_ACCURACY = 0.4
#: normalised images have a mean near 0 and a standard deviation near 1 (the notebook's Batches)
NORMALISED_MEAN = 0.6
NORMALISED_STD = (0.5, 2.0)
#: where the notebook asks for each name of the contract (a message of the catalogue, for the hints)
WHERE = {
    "Net": "where.todo1",
    "train_one_epoch": "where.todo2",
    "evaluate": "where.todo3",
    "loss_fn": "where.todo4",
    "model": "where.training",
    "test_accuracy": "where.training",
}


def min_test_accuracy(dataset_name: str, budget: str) -> float:
    """The test accuracy the trained model must beat, for this dataset and budget."""
    if budget == "tiny":
        return TINY_MIN_TEST_ACCURACY
    return MIN_TEST_ACCURACY.get(dataset_name, MIN_TEST_ACCURACY["fashion-mnist"])
