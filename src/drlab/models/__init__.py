"""The TP1 classifiers, from the simplest to the strongest, and a registry that builds them by name.

Every model owns ``forward`` only (the loss and the optimizer belong to the trainer). Each takes the
dataset's ``image_shape`` ``(channels, height, width)`` and ``num_classes``, so the same models run
on 28×28 Fashion-MNIST and on 8×8 digits. They return *logits* (scores before the softmax): the
cross-entropy loss applies ``log_softmax`` itself, in a numerically stable way.

The lecture's four, then the speedruns' (:mod:`drlab.models.groups`, for the named recipes):

=========  ==========================================================  ==================
name       architecture                                                role in the course
=========  ==========================================================  ==================
softmax    one ``nn.Linear`` on the flattened pixels                  multinomial logistic regression
mlp        784-256-128-10 with ReLU (optional dropout)                 the first neural network
cnn        two conv-pool-ReLU blocks, then two linear layers           what convolutions buy
cnn-bn     three conv-BN-pool-ReLU blocks, dropout, two linear layers  the accuracy goal
cnn-fast   three groups conv-pool-BN-ReLU-conv-BN-ReLU, 16-32-64       ``--recipe fast``
cnn-deep   the same groups, 32-64-128 (cnn-bn's channels)              ``--recipe accurate``
=========  ==========================================================  ==================
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from drlab.common.errors import UsageError
from drlab.models.classifiers import CNN, MLP, CNNWithBatchNorm, SoftmaxRegression
from drlab.models.groups import ConvGroupCNN
from drlab.models.summary import ModelSummary, summarize

ImageShape = tuple[int, int, int]

#: name → constructor ``(image_shape, num_classes, dropout) -> nn.Module``; ``dropout=None`` keeps the model's default
MODELS: dict[str, Callable[[ImageShape, int, float | None], nn.Module]] = {
    "softmax": lambda shape, classes, dropout: SoftmaxRegression(shape, classes),
    "mlp": lambda shape, classes, dropout: MLP(shape, classes, dropout=0.0 if dropout is None else dropout),
    "cnn": lambda shape, classes, dropout: CNN(shape, classes),
    "cnn-bn": lambda shape, classes, dropout: CNNWithBatchNorm(
        shape, classes, dropout=0.3 if dropout is None else dropout
    ),
    "cnn-fast": lambda shape, classes, dropout: ConvGroupCNN(
        shape, classes, widths=(16, 32, 64), dropout=0.0 if dropout is None else dropout
    ),
    "cnn-deep": lambda shape, classes, dropout: ConvGroupCNN(
        shape, classes, widths=(32, 64, 128), dropout=0.0 if dropout is None else dropout
    ),
}

#: models whose first layers are convolutions (they benefit from the channels-last memory layout)
CONVOLUTIONAL = frozenset({"cnn", "cnn-bn", "cnn-fast", "cnn-deep"})


def build_model(
    name: str, image_shape: ImageShape, num_classes: int, dropout: float | None = None
) -> nn.Module:
    """Build the model called ``name`` for images of ``image_shape`` and ``num_classes`` classes."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise UsageError(f"dropout must be in [0, 1), got {dropout}")
    return MODELS[name](image_shape, num_classes, dropout)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the θ that gradient descent updates)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "CNN",
    "CONVOLUTIONAL",
    "MLP",
    "MODELS",
    "CNNWithBatchNorm",
    "ConvGroupCNN",
    "ModelSummary",
    "SoftmaxRegression",
    "build_model",
    "count_parameters",
    "summarize",
]
