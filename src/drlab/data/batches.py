"""Fast in-memory batches: the whole dataset is one tensor on the device, an epoch one ``randperm``.

A per-sample pipeline (``Dataset.__getitem__`` → transform → collate, the torchvision way) spends more
time moving single images around than a small network spends learning from them. For datasets that fit
in memory — Fashion-MNIST is 47 MB as uint8 — it is simpler and faster to convert everything once
(uint8 → float32, normalised) and slice batches out of a permutation of indices.

Determinism and resume: the order of epoch ``e`` is a function of ``(seed, e)`` alone, so a resumed run
or another rank draws exactly the same permutation without saving any generator state.

Distributed training: ``batch_size`` is the *global* batch. With ``world_size`` ranks, every rank walks
the same permutation and keeps its share (``[rank::world_size]``) of each global batch, so every sample
is seen once per epoch across ranks and a step of ``world_size`` ranks equals one step of one process.

For people who want a ``DataLoader`` anyway, :meth:`Batches.dataset` is a standard ``Dataset`` over the
same tensors (already in memory: ``num_workers=0`` is the right choice for it).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import TensorDataset

GATHER_STEPS = 32  # batches gathered at once by Batches.__iter__


class Batches:
    """Iterate over ``(x_batch, y_batch)`` tensors sliced from the whole dataset held on ``device``."""

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor,
        *,
        batch_size: int,
        mean: float = 0.0,
        std: float = 1.0,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"images and labels differ in length ({len(images)} vs {len(labels)})")
        if len(labels) == 0:
            raise ValueError("cannot batch an empty dataset")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        if batch_size < world_size:
            raise ValueError(f"global batch_size {batch_size} is smaller than world_size {world_size}")
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.device = torch.device(device)
        self.x = self._to_float(torch.as_tensor(images), mean, std).to(self.device)
        self.y = torch.as_tensor(labels, dtype=torch.int64).to(self.device)

    @staticmethod
    def _to_float(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
        # one conversion for the whole dataset: uint8 (N, H, W) → float32 (N, 1, H, W), (x/255 − mean)/std
        if images.dtype == torch.uint8:
            images = images.to(torch.float32).div_(255.0)
        else:
            images = images.to(torch.float32)
        if images.ndim == 3:
            images = images.unsqueeze(1)
        return images.sub_(mean).div_(std) if (mean, std) != (0.0, 1.0) else images

    @property
    def num_samples(self) -> int:
        """Number of samples in the whole dataset (all ranks)."""
        return int(self.y.shape[0])

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose permutation the next iteration walks (``DistributedSampler``'s rule)."""
        self.epoch = epoch

    def permutation(self, epoch: int | None = None) -> torch.Tensor:
        """The order of the samples in ``epoch`` (default: the current one), identical on every rank."""
        epoch = self.epoch if epoch is None else epoch
        if not self.shuffle:
            return torch.arange(self.num_samples)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_samples, generator=generator)

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full if self.drop_last or rest < self.world_size else full + 1

    def indices(self, epoch: int | None = None) -> Iterator[torch.Tensor]:
        """This rank's sample indices, batch after batch, for ``epoch``."""
        order = self.permutation(epoch)
        for step in range(len(self)):
            global_batch = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield global_batch[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # One gather for GATHER_STEPS batches, then slices (views): every tensor op has a fixed cost (a
        # kernel launch on a GPU, waking the thread pool on a CPU) that dominates for 128 small images,
        # and a busy CPU makes it far worse. The extra memory is bounded: GATHER_STEPS batches at a time.
        steps = list(self.indices())
        for first in range(0, len(steps), GATHER_STEPS):
            group = steps[first : first + GATHER_STEPS]
            idx = torch.cat(group).to(self.device, non_blocking=True)
            x_group, y_group = self.x.index_select(0, idx), self.y.index_select(0, idx)
            start = 0
            for part in group:
                stop = start + len(part)
                yield x_group[start:stop], y_group[start:stop]
                start = stop

    def dataset(self) -> TensorDataset:
        """A standard ``torch.utils.data.Dataset`` view of all samples (the same tensors, no copy)."""
        return TensorDataset(self.x, self.y)
