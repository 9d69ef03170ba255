"""Data augmentation ("augmentation de données") on whole batches, where the batch already lives.

A mirrored coat is still a coat: showing the network mirrored training images is free extra data, and it
is the first remedy against over-fitting once the model is large enough. torchvision applies such
transforms image by image in a ``Dataset``; here the whole dataset is one tensor on the device
(:class:`drlab.data.Batches`), so a flip is a handful of tensor operations on the whole mini-batch at
once (the CIFAR-10 speedruns, airbench, do the same): :func:`random_flip` mirrors left ↔ right the images
a random mask picks (``torch.where``).

Determinism: the random numbers come from a ``torch.Generator`` of the batch's device seeded by
``(seed, epoch)`` (:meth:`RandomFlips.set_epoch`), never from the global generator, so the same seed
gives the same images on CPU and a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import torch

#: mixed into the seed so that the augmentation's stream differs from the batch order's (same seed)
_SEED_SALT = 0x5EED_A06


def random_flip(x_batch: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """The images of ``x_batch`` ``(N, C, H, W)`` with those where ``flip`` ``(N,)`` is True mirrored left ↔ right."""
    return torch.where(flip.view(-1, 1, 1, 1), x_batch.flip(3), x_batch)


class RandomFlips:
    """Mirror a random half of every training mini-batch left ↔ right, seeded by ``(seed, epoch)``.

    Call :meth:`set_epoch` at the start of every epoch, then ``flips(x_batch)`` on each batch (already on
    the device).
    """

    def __init__(self, *, seed: int, device: str | torch.device = "cpu") -> None:
        self.seed = seed
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Restart the random stream for ``epoch``: its draws depend on ``(seed, epoch)`` only."""
        self.generator.manual_seed((self.seed * 1_000_003 + epoch) ^ _SEED_SALT)

    def __call__(self, x_batch: torch.Tensor) -> torch.Tensor:
        mask = torch.rand(x_batch.shape[0], generator=self.generator, device=self.device) < 0.5
        return random_flip(x_batch, mask)
