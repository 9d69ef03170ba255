"""Data augmentation ("augmentation de données") on whole batches, where the batch already lives.

A mirrored coat is still a coat, and a coat one pixel to the left too: showing the network such variants
of its training images is free extra data, and it is the first remedy against over-fitting once the model
is large enough. torchvision applies such transforms image by image in a ``Dataset``; here the whole
dataset is one tensor on the device (:class:`drlab.data.Batches`), so each transform is a handful of
tensor operations on the whole mini-batch at once (the CIFAR-10 speedruns, airbench, do the same):

* :func:`random_flip` — mirror left ↔ right the images a random mask picks (``torch.where``);
* :func:`random_translate` — shift every image by its own random (dy, dx) in [−s, s]², the uncovered
  border filled with the background: pad the batch once, then one gather reads each image's window.
  It earns its place in the ``accurate`` recipe only (``cnn-deep``, 20 epochs: test 0.9407 with one-pixel
  shifts against 0.9368 without, seeds 0–2); short runs do not gain from it.

Determinism: the random numbers come from a ``torch.Generator`` of the batch's device seeded by
``(seed, epoch)`` (:meth:`BatchAugment.set_epoch`), never from the global generator, so the same seed
gives the same images on CPU and a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: mixed into the seed so that the augmentation's stream differs from the batch order's (same seed)
_SEED_SALT = 0x5EED_A06


def random_flip(x_batch: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """The images of ``x_batch`` ``(N, C, H, W)`` with those where ``flip`` ``(N,)`` is True mirrored left ↔ right."""
    return torch.where(flip.view(-1, 1, 1, 1), x_batch.flip(3), x_batch)


def random_translate(
    x_batch: torch.Tensor, shifts: torch.Tensor, max_shift: int, fill: float
) -> torch.Tensor:
    """Shift image ``i`` of ``x_batch`` by ``shifts[i] = (dy, dx)`` pixels (down, right), ``|dy|, |dx| ≤ max_shift``.

    Pixels that come from outside the image take the value ``fill`` (the background). One padding of
    the whole batch, then advanced indexing reads, for every image, its own ``H × W`` window of the
    padded image, starting at ``(max_shift − dy, max_shift − dx)``: no Python loop over the images.
    """
    n, _, height, width = x_batch.shape
    s = max_shift
    padded = F.pad(x_batch, (s, s, s, s), value=fill)  # (N, C, H + 2s, W + 2s)
    rows = (s - shifts[:, 0]).view(n, 1) + torch.arange(height, device=x_batch.device)  # (N, H)
    cols = (s - shifts[:, 1]).view(n, 1) + torch.arange(width, device=x_batch.device)  # (N, W)
    images = torch.arange(n, device=x_batch.device).view(n, 1, 1)
    # (N, H+2s, W+2s, C)[image, row, col] → (N, H, W, C); back to (N, C, H, W), already channels-last
    window = padded.permute(0, 2, 3, 1)[images, rows.view(n, height, 1), cols.view(n, 1, width)]
    return window.permute(0, 3, 1, 2)


class BatchAugment:
    """Random flips (a random half of every training mini-batch mirrored left ↔ right) and, with
    ``max_shift`` > 0, random translations, seeded by ``(seed, epoch)``.

    Call :meth:`set_epoch` at the start of every epoch, then ``augment(x_batch)`` on each batch (already on
    the device, normalised); ``fill`` is the normalised value of a black pixel, Fashion-MNIST's background.
    """

    def __init__(
        self, *, flip: bool = True, max_shift: int = 0, fill: float = 0.0, seed: int,
        device: str | torch.device = "cpu",
    ) -> None:  # fmt: skip
        self.flip, self.max_shift, self.fill = flip, max_shift, fill
        self.seed = seed
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Restart the random stream for ``epoch``: its draws depend on ``(seed, epoch)`` only."""
        self.generator.manual_seed((self.seed * 1_000_003 + epoch) ^ _SEED_SALT)

    def __call__(self, x_batch: torch.Tensor) -> torch.Tensor:
        n = x_batch.shape[0]
        if self.flip:
            x_batch = random_flip(x_batch, torch.rand(n, generator=self.generator, device=self.device) < 0.5)
        if self.max_shift > 0:
            shifts = torch.randint(
                -self.max_shift, self.max_shift + 1, (n, 2), generator=self.generator, device=self.device
            )
            x_batch = random_translate(x_batch, shifts, self.max_shift, self.fill)
        return x_batch
