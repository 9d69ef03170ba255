"""Beyond the lecture's four models: the CNN of the speedruns, for the ``fast`` and ``accurate`` recipes.

The lecture's batch-norm CNN (``cnn-bn``) stacks three blocks conv → BatchNorm → maxpool → ReLU. The
CIFAR-10 speedruns (airbench, after hlb-cifar10) reach more accuracy per second with two changes to
that block, which :class:`ConvGroupCNN` makes, and nothing else:

1. **pool right after the convolution**, then BatchNorm and ReLU: the batch norm, the ReLU and their
   gradients touch a quarter of the values (memory-bound layers, which on a CPU cost as much as small
   convolutions);
2. **a second convolution in every group**, at the pooled resolution, where it costs a quarter of the
   first: more depth (six convolutions instead of three) for little time.

A group is therefore conv3×3 → maxpool 2×2 → BatchNorm → ReLU → conv3×3 → BatchNorm → ReLU,
and three groups halve 28×28 to 14, 7 and 3, as in ``cnn-bn``; the classifier is ``cnn-bn``'s (dropout,
a hidden layer, dropout, the output layer). On Fashion-MNIST:

* ``cnn-fast`` (``--recipe fast``), widths 16, 32, 64: 1×28×28 → 16×14×14 → 32×7×7 → 64×3×3 → 256 → 10,
  222,298 parameters — half ``cnn-bn``'s channels (32, 64, 128) but twice its convolutions, for less
  than half its time per image in a bf16 training step on a 2-core CPU with AVX512-BF16;
* ``cnn-deep`` (``--recipe accurate``), widths 32, 64, 128: 1×28×28 → 32×14×14 → 64×7×7 → 128×3×3 →
  256 → 10, 584,618 parameters — ``cnn-bn``'s channels with twice its depth. What it adds to the
  lecture's CNN is the depth of the ResNets (Zalando's Fashion-MNIST benchmark lists ResNet-18 at
  0.949) without their shortcuts: at six convolutions, each followed by a batch norm, the network
  trains well without them (a residual variant was not measured).

Pooling before the batch norm is not the same function as after it (the statistics are those of the
pooled values), but it is what airbench does, and costs a quarter of the normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from drlab.models.classifiers import pooled_classifier


def conv_group(in_channels: int, out_channels: int) -> nn.Sequential:
    """conv → maxpool → BatchNorm → ReLU, then conv → BatchNorm → ReLU at the pooled size."""
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
        second,
    )


class ConvGroupCNN(nn.Module):
    """Three conv groups (each conv → maxpool → BatchNorm → ReLU → conv → BatchNorm → ReLU), then
    ``cnn-bn``'s classifier: dropout, a hidden layer, dropout, the output layer.

    ``widths`` are the groups' channels.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        num_classes: int,
        widths: tuple[int, int, int] = (32, 64, 128),
        hidden: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        first, second, third = widths
        self.features = nn.Sequential(
            conv_group(channels, first),
            conv_group(first, second),
            conv_group(second, third),
        )
        self.classifier = pooled_classifier(third, height, width, hidden, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
