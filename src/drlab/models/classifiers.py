"""The four image classifiers of TP1. Each ``nn.Module`` defines ``__init__`` (its layers) and ``forward``.

Input: a float batch ``(N, C, H, W)``, normalised. Output: logits ``(N, num_classes)``.
"""

from __future__ import annotations

import torch
from torch import nn


class SoftmaxRegression(nn.Module):
    """Multinomial logistic regression: one linear layer on the flattened pixels (softmax is in the loss)."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(channels * height * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(x))


class MLP(nn.Module):
    """A multi-layer perceptron: 784-256-128-10 on Fashion-MNIST, ReLU between layers, optional dropout."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        hidden: tuple[int, int] = (256, 128),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * height * width, hidden[0]),
            nn.ReLU(),
            nn.Dropout(dropout),  # identity when dropout = 0 (and always in eval mode)
            nn.Linear(hidden[0], hidden[1]),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden[1], num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class CNN(nn.Module):
    """A small CNN: two blocks conv3×3 → maxpool 2×2 → ReLU (32 then 64 channels), then two linear layers.

    Each pooling halves the height and width (28 → 14 → 7; 8 → 4 → 2), so the first linear layer's
    input size is computed from the image shape.

    The textbook block is conv → ReLU → pool; this one pools *before* the ReLU. Both compute the same
    function with the same gradients — ``relu(maxpool(z)) == maxpool(relu(z))`` exactly, since the
    ReLU is monotone — but the ReLU then touches 4× fewer values (``tests/test_models.py`` checks it).
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            nn.ReLU(),
        )
        flat = 64 * (height // 4) * (width // 4)
        if flat == 0:
            raise ValueError(f"images of {height}×{width} are too small for two 2×2 poolings (need ≥ 4×4)")
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def pooled_classifier(
    channels: int, height: int, width: int, hidden: int, num_classes: int, dropout: float
) -> nn.Sequential:
    """The head of the batch-norm CNNs, after three 2×2 poolings: flatten, dropout, a hidden layer with
    ReLU, dropout, the output layer (logits)."""
    flat = channels * (height // 8) * (width // 8)
    if flat == 0:
        raise ValueError(f"images of {height}×{width} are too small for three 2×2 poolings (need ≥ 8×8)")
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(flat, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


def _conv_bn_block(in_channels: int, out_channels: int) -> nn.Sequential:
    # conv → BatchNorm → maxpool → ReLU. No bias in the convolution: the batch norm that follows
    # subtracts the mean and adds its own shift; pooling before the ReLU gives the same function as
    # after it (see CNN) for a quarter of the ReLU's work
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.MaxPool2d(2),
        nn.ReLU(),
    )


class CNNWithBatchNorm(nn.Module):
    """A stronger CNN: three blocks conv → BatchNorm → maxpool → ReLU (32, 64, 128 channels), dropout,
    then two linear layers.

    Batch normalisation keeps each layer's inputs on a stable scale (a larger learning rate works) and
    dropout fights over-fitting; remember ``model.train()`` / ``model.eval()``: both behave differently.
    """

    def __init__(
        self, image_shape: tuple[int, int, int], num_classes: int, hidden: int = 256, dropout: float = 0.3
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.features = nn.Sequential(
            _conv_bn_block(channels, 32), _conv_bn_block(32, 64), _conv_bn_block(64, 128)
        )
        self.classifier = pooled_classifier(128, height, width, hidden, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
