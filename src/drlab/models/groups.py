"""Beyond the lecture's four models: the CNN of the speedruns, for the ``fast`` and ``accurate`` recipes.

The lecture's batch-norm CNN (``cnn-bn``) stacks three blocks conv → BatchNorm → maxpool → ReLU. The
CIFAR-10 speedruns (airbench, after hlb-cifar10) reach more accuracy per second with two changes to
that block, which :class:`ConvGroupCNN` makes, and nothing else:

1. **pool right after the convolution**, then BatchNorm and ReLU: the batch norm, the ReLU and their
   gradients touch a quarter of the values (on the CPU these memory-bound layers, not the
   convolutions, took most of ``cnn-bn``'s time at 28×28);
2. **a second convolution in every group**, at the pooled resolution, where it costs a quarter of the
   first: more depth (six convolutions instead of three) for little time. Optionally it is a
   **residual** branch, ``x + relu(bn(conv(x)))`` (ResNet's shortcut): the gradient flows through the
   addition untouched, which keeps a deeper network as easy to train as a shallow one.

A group is therefore conv3×3 → maxpool 2×2 → BatchNorm → ReLU → conv3×3 → BatchNorm → ReLU (+ input),
and three groups halve 28×28 to 14, 7 and 3, as in ``cnn-bn``; the classifier is ``cnn-bn``'s (dropout,
a hidden layer, dropout, the output layer). On Fashion-MNIST:

* ``cnn-fast`` (``--recipe fast``), widths 16, 32, 64: 1×28×28 → 16×14×14 → 32×7×7 → 64×3×3 → 256 → 10,
  222,298 parameters — fewer channels than ``cnn-bn`` (32, 64, 128) but twice its convolutions, for
  the same validation accuracy in a third of the time per image (measured, README). Pooling before the batch norm is not the same function as
after it (the statistics are those of the pooled values), but it is what airbench does, and the
validation accuracy says it is no worse (README, TP1 recipes).
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBranch(nn.Module):
    """``x + branch(x)``: a shortcut around ``branch``, which must keep the shape of its input."""

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


def conv_group(in_channels: int, out_channels: int, residual: bool) -> nn.Sequential:
    """conv → maxpool → BatchNorm → ReLU, then conv → BatchNorm → ReLU at the pooled size (+ input)."""
    # no bias in the convolutions: the batch norm that follows subtracts the mean and adds its own shift
    second = nn.Sequential(
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        ResidualBranch(second) if residual else second,
    )


class ConvGroupCNN(nn.Module):
    """Three conv groups (each conv → maxpool → BatchNorm → ReLU → conv → BatchNorm → ReLU), then
    ``cnn-bn``'s classifier: dropout, a hidden layer, dropout, the output layer.

    ``widths`` are the groups' channels; ``residual`` adds the input of each group's second
    convolution to its output.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        widths: tuple[int, int, int] = (32, 64, 128),
        hidden: int = 256,
        dropout: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        first, second, third = widths
        self.features = nn.Sequential(
            conv_group(channels, first, residual),
            conv_group(first, second, residual),
            conv_group(second, third, residual),
        )
        flat = third * (height // 8) * (width // 8)
        if flat == 0:
            raise ValueError(f"images of {height}×{width} are too small for three 2×2 poolings (need ≥ 8×8)")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(flat, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
