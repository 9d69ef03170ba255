"""Batches (every index once per epoch, seeded, sharded), the DataLoader view, digits and the splits."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from drlab.data.batches import Batches
from drlab.data.catalog import load_dataset
from drlab.data.datasets import digits_28x28, digits_arrays, load_digits, train_val_split
from drlab.data.paths import default_cache_dir, offline_from_env, resolve_data_dir


def _data(n: int = 103, side: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, side, side), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def _seen(batches: Batches, epoch: int) -> list[int]:
    batches.set_epoch(epoch)
    return [int(i) for idx in batches.indices() for i in idx]


@pytest.mark.parametrize(("n", "batch_size"), [(103, 10), (100, 10), (7, 64), (1, 1)])
def test_every_index_once_per_epoch(n: int, batch_size: int) -> None:
    images, labels = _data(n)
    batches = Batches(images, labels, batch_size=batch_size, seed=3)
    for epoch in range(3):
        assert sorted(_seen(batches, epoch)) == list(range(n))
    assert len(batches) == -(-n // batch_size)
    assert len(list(batches)) == len(batches)


def test_batches_hold_the_normalised_samples_of_their_indices() -> None:
    images, labels = _data()
    mean, std = 0.3, 0.2
    batches = Batches(images, labels, batch_size=16, mean=mean, std=std, seed=1)
    expected_x = (torch.from_numpy(images).float() / 255 - mean) / std  # the per-sample oracle
    for idx, (x_batch, y_batch) in zip(batches.indices(), batches, strict=True):
        assert x_batch.shape == (len(idx), 1, 4, 4) and x_batch.dtype == torch.float32
        torch.testing.assert_close(x_batch[:, 0], expected_x[idx])
        assert torch.equal(y_batch, torch.from_numpy(labels)[idx])


def test_drop_last() -> None:
    images, labels = _data(103)
    batches = Batches(images, labels, batch_size=10, drop_last=True, seed=0)
    sizes = [len(y) for _x, y in batches]
    assert sizes == [10] * 10 and len(batches) == 10
    assert len(set(_seen(batches, 0))) == 100


def test_reproducible_with_a_seed_and_different_across_epochs_and_seeds() -> None:
    images, labels = _data()
    first = Batches(images, labels, batch_size=8, seed=5)
    again = Batches(images, labels, batch_size=8, seed=5)
    other = Batches(images, labels, batch_size=8, seed=6)
    assert _seen(first, 0) == _seen(again, 0) and _seen(first, 4) == _seen(again, 4)
    assert _seen(first, 0) != _seen(first, 1)
    assert _seen(first, 0) != _seen(other, 0)
    # the order of an epoch depends on (seed, epoch) only, not on how many epochs ran before (resume)
    fresh = Batches(images, labels, batch_size=8, seed=5)
    assert _seen(fresh, 4) == _seen(first, 4)
    # and not on torch's global generator
    torch.manual_seed(123)
    assert torch.equal(first.permutation(2), again.permutation(2))


def test_no_shuffle_keeps_the_order() -> None:
    images, labels = _data(20)
    assert _seen(Batches(images, labels, batch_size=6, shuffle=False), 3) == list(range(20))


@pytest.mark.parametrize(("n", "batch_size", "world_size"), [(96, 12, 4), (100, 10, 2), (103, 12, 3)])
def test_shards_are_disjoint_and_cover_the_epoch(n: int, batch_size: int, world_size: int) -> None:
    images, labels = _data(n)
    shards = [
        Batches(images, labels, batch_size=batch_size, seed=9, rank=rank, world_size=world_size)
        for rank in range(world_size)
    ]
    seen = [_seen(shard, 2) for shard in shards]
    union = [i for part in seen for i in part]
    assert len(union) == len(set(union)), "two ranks saw the same sample"
    single = Batches(images, labels, batch_size=batch_size, seed=9)
    assert sorted(union) == sorted(_seen(single, 2))  # together, exactly one process's epoch
    assert len({len(shard) for shard in shards}) == 1  # every rank takes the same number of steps
    # step by step, the ranks' batches are a partition of the single process's global batch
    for step, global_batch in enumerate(single.indices(2)):
        parts = [list(shard.indices(2))[step] for shard in shards]
        assert sorted(torch.cat(parts).tolist()) == sorted(global_batch.tolist())


def test_bad_arguments() -> None:
    images, labels = _data(10)
    with pytest.raises(ValueError, match="differ in length"):
        Batches(images, labels[:5], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        Batches(images, labels, batch_size=0)
    with pytest.raises(ValueError, match="rank"):
        Batches(images, labels, batch_size=4, rank=2, world_size=2)


def test_dataset_view_and_a_dataloader_over_it_match_batches() -> None:
    images, labels = _data(50)
    batches = Batches(images, labels, batch_size=7, mean=0.5, std=0.25, seed=0)
    view = batches.dataset()
    assert len(view) == 50
    x0, y0 = view[3]
    torch.testing.assert_close(x0, batches.x[3])
    assert int(y0) == int(labels[3])
    loader = DataLoader(view, batch_size=7, shuffle=True, generator=torch.Generator().manual_seed(4))
    seen = torch.cat([y for _x, y in loader])
    assert sorted(seen.tolist()) == sorted(labels.tolist())


def test_load_digits_shapes_and_split() -> None:
    digits = load_digits(test_fraction=0.2, seed=0)
    assert digits.x_train.shape == (1438, 8, 8) and digits.x_test.shape == (359, 8, 8)
    assert digits.x_train.dtype == np.uint8 and digits.y_train.dtype == np.int64
    assert digits.num_classes == 10 and digits.image_shape == (1, 8, 8)
    assert digits.x_train.max() == 255 and set(np.unique(digits.y_test)) == set(range(10))
    again, other = load_digits(seed=0), load_digits(seed=1)
    np.testing.assert_array_equal(digits.x_train, again.x_train)
    assert not np.array_equal(digits.y_train, other.y_train)
    assert len(digits.y_train) + len(digits.y_test) == 1797
    assert digits.std > 0 and 0 < digits.mean < 1
    assert load_dataset("digits", seed=0).x_train.shape == digits.x_train.shape


def test_the_bundled_digits_are_scikit_learns() -> None:
    """The oracle: scikit-learn's own loader of the file drlab copied (a test dependency, not drlab's)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    counts, labels = digits_arrays()
    np.testing.assert_array_equal(counts, reference.images)
    np.testing.assert_array_equal(labels, reference.target)
    # train and test together are the 1,797 images, each once: the images scaled 16 → 255
    digits = load_digits(seed=0)
    together = np.concatenate([digits.x_train, digits.x_test])
    expected = np.round(reference.images * 255 / 16).astype(np.uint8)
    order = np.lexsort(together.reshape(len(together), -1).T)
    np.testing.assert_array_equal(together[order], expected[np.lexsort(expected.reshape(1797, -1).T)])


def test_the_digits_load_without_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    """scikit-learn is no dependency of drlab: the digits load with it unimportable."""
    for name in [name for name in sys.modules if name == "sklearn" or name.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now raises ImportError
    digits = load_digits(seed=0, size=28)
    assert digits.x_train.shape[1:] == (28, 28) and len(digits.y_train) + len(digits.y_test) == 1797


def test_digits_at_28x28_are_normalised_with_the_images_fed() -> None:
    """TP1's fallback: the enlarged digits, with the mean and std of the 28×28 images, not the 8×8 ones."""
    small, big = load_digits(seed=3), load_digits(seed=3, size=28)
    assert big.x_train.shape == (1438, 28, 28) and big.image_shape == (1, 28, 28)
    np.testing.assert_array_equal(big.x_train, digits_28x28(small.x_train))
    np.testing.assert_array_equal(big.y_test, small.y_test)
    scaled = big.x_train / 255.0  # the oracle: NumPy's statistics of exactly what the network is fed
    assert big.mean == pytest.approx(scaled.mean(), rel=1e-12) and big.std == pytest.approx(
        scaled.std(), rel=1e-12
    )
    assert big.mean < small.mean - 0.03  # the black border: the 8×8 statistics would be wrong by this much
    fed = Batches(big.x_train, big.y_train, batch_size=64, mean=big.mean, std=big.std).x
    assert abs(float(fed.mean())) < 1e-4 and float(fed.std()) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="size"):
        load_digits(size=16)  # type: ignore[arg-type]


def test_digits_are_enlarged_pixel_by_pixel() -> None:
    images = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    big = digits_28x28(images)
    assert big.shape == (2, 28, 28) and big.dtype == np.uint8
    assert (big[:, :2, :] == 0).all() and (big[:, :, -2:] == 0).all()
    assert (big[:, 2:5, 2:5] == images[:, :1, :1]).all()  # pixel (0, 0) became a 3×3 block
    assert big[1, 2 + 3 * 7, 2 + 3 * 5] == images[1, 7, 5]


def test_train_val_split_is_seeded_and_disjoint() -> None:
    images = np.arange(50)[:, None].repeat(3, axis=1)
    labels = np.arange(50)
    _x_train, y_train, x_val, y_val = train_val_split(images, labels, val_fraction=0.2, seed=7)
    assert len(y_val) == 10 and len(y_train) == 40
    assert sorted([*y_train, *y_val]) == list(range(50))
    np.testing.assert_array_equal(x_val[:, 0], y_val)  # images travel with their labels
    assert np.array_equal(train_val_split(images, labels, 0.2, seed=7)[3], y_val)
    assert not np.array_equal(train_val_split(images, labels, 0.2, seed=8)[3], y_val)


def test_data_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DRLAB_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("DRLAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform != "win32":
        assert resolve_data_dir() == tmp_path / "xdg" / "drlab" == default_cache_dir()
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert resolve_data_dir() == Path.home() / ".cache" / "drlab"


def test_offline_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRLAB_OFFLINE", "1")
    assert offline_from_env() is True and offline_from_env(False) is False
    monkeypatch.setenv("DRLAB_OFFLINE", "0")
    assert offline_from_env() is False
    monkeypatch.delenv("DRLAB_OFFLINE")
    assert offline_from_env() is False


def test_digits_are_enlarged_like_mnist() -> None:
    images = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    big = digits_28x28(images)
    assert big.shape == (2, 28, 28) and big.dtype == np.uint8
    assert (big[:, :2, :] == 0).all() and (big[:, :, -2:] == 0).all()  # a 2-pixel black border
    assert (big[:, 2:5, 2:5] == images[:, :1, :1]).all()  # pixel (0, 0) became a 3×3 block
    assert big[1, 2 + 3 * 7, 2 + 3 * 5] == images[1, 7, 5]
