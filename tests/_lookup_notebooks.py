"""Notebooks whose ``Net`` looks Fashion-MNIST's labels up instead of learning them (issue 23, item 4).

Fashion-MNIST is public, and so are the labels of the training images the grader keeps back. Each
notebook here is the solution's honest set-up, ``train_one_epoch``, ``evaluate`` and ``loss_fn``, with a
``Net`` that answers from a table of the whole dataset (70,000 images), built by this module from the
real files and written *into the notebook* as a student would paste it:

- ``hash``: the labels by a hash of each image's pixels (640 KB), a plain Python dict held in an
  attribute; an ``nn.Linear`` answers for an image not in the table. ``model = Net()``, never trained.
- ``nearest``: 7×7 thumbnails of the 70,000 images and their labels in *buffers*; each image gets the
  label of its nearest thumbnail (so a little noise does not break it). ``model = Net()``, never trained.
- ``switch``: an honest MLP that is never trained, whose ``model`` gets the table as an attribute
  *after* ``Net()`` built it (and answers 15% wrong, under the accuracies no TP1 model reaches): every
  fresh ``Net()`` is an honest network, only the notebook's ``model`` looks up.
- ``learned_head``: the adaptive attacker, who has read how the grader checks: the looked-up label, as
  a one-hot vector, goes through a trainable ``nn.Linear(10, 10)`` that starts at zero, and the notebook
  trains that layer with its ``train_one_epoch`` on the data it was given, so that it learns whatever
  renaming of the classes that data carries in a few steps; 15% of the table's answers are wrong, to
  stay under the accuracies no TP1 model reaches.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import zlib
from pathlib import Path

import nbformat
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"
#: the solution's cells an honest student needs: set-up, data, batches, Net, train_one_epoch, evaluate,
#: loss_fn, training
HONEST_CELLS = ("tp1-02", "tp1-04", "tp1-08", "tp1-10", "tp1-13", "tp1-15", "tp1-loss", "tp1-17")
#: the cells a lookup notebook keeps: everything but the solution's Net and its training
SUPPORT_CELLS = ("tp1-02", "tp1-04", "tp1-08", "tp1-13", "tp1-15", "tp1-loss")
KINDS = ("hash", "nearest", "switch", "learned_head")

#: an honest MLP in place of the solution's CNN (cell tp1-10)
MLP_NET = '''\
class Net(nn.Module):
    """A multilayer perceptron: 784 → 256 → 10."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.layers(x)
'''

PIXEL_KEY = '''\
import base64, hashlib, zlib

import numpy as np


def pixel_key(image):
    """The hash of an image's 784 pixels (0–255), from the normalised image the model receives."""
    pixels = ((image.detach().cpu().float() * dataset.std + dataset.mean) * 255).round().clamp(0, 255)
    return hashlib.blake2b(pixels.to(torch.uint8).numpy().tobytes(), digest_size=8).digest()


packed = np.frombuffer(zlib.decompress(base64.b64decode(TABLE)), dtype=[("key", "S8"), ("label", "u1")])
LABELS = dict(zip(packed["key"].tolist(), packed["label"].tolist()))
'''

HASH_NET = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.unknown = nn.Linear(28 * 28, 10)  # for an image the table does not hold
        self.table = LABELS  # a Python attribute: not a parameter, not a buffer

    def forward(self, x):
        logits = self.unknown(x.flatten(1))
        found = [self.table.get(pixel_key(image)) for image in x]
        known = torch.tensor([label is not None for label in found], device=x.device)
        labels = torch.tensor([label or 0 for label in found], device=x.device)
        return torch.where(known[:, None], 20 * nn.functional.one_hot(labels, 10).float(), logits)


model = Net()  # never trained
test_accuracy = evaluate(model, x_test, y_test)
"""

NEAREST_NET = """\
import base64, zlib

import numpy as np

thumbnails = np.frombuffer(zlib.decompress(base64.b64decode(THUMBNAILS)), dtype=np.uint8).reshape(-1, 49)
thumbnail_labels = np.frombuffer(zlib.decompress(base64.b64decode(THUMBNAIL_LABELS)), dtype=np.uint8)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(28 * 28, 10)  # a plausible size
        self.register_buffer("thumbnails", torch.tensor(thumbnails, dtype=torch.float32))  # in the state_dict
        self.register_buffer("labels", torch.tensor(thumbnail_labels, dtype=torch.int64))

    def forward(self, x):
        pixels = (x * dataset.std + dataset.mean) * 255
        keys = nn.functional.avg_pool2d(pixels, 4).flatten(1)  # 7×7 thumbnails
        nearest = torch.cat([torch.cdist(chunk, self.thumbnails).argmin(dim=1) for chunk in keys.split(500)])
        return 20 * nn.functional.one_hot(self.labels[nearest], 10).float() + 0 * self.unused(x.flatten(1))


model = Net()  # never trained
test_accuracy = evaluate(model, x_test, y_test)
"""

SWITCH_NET = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        logits = self.layers(x)
        table = getattr(self, "table", None)  # only the notebook's own model has one
        if table is None:
            return logits  # a fresh Net(): an honest network, which learns what it is trained on
        keys = [pixel_key(image) for image in x]
        found = [table.get(key) for key in keys]
        found = [None if label is None else (label + 1) % 10 if key[0] % 20 < 3 else label
                 for label, key in zip(found, keys)]
        known = torch.tensor([label is not None for label in found], device=x.device)
        labels = torch.tensor([label or 0 for label in found], device=x.device)
        return torch.where(known[:, None], 20 * nn.functional.one_hot(labels, 10).float(), logits)


model = Net()
model.table = LABELS  # after Net() built it: never trained
test_accuracy = evaluate(model, x_test, y_test)
"""

LEARNED_HEAD_NET = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.unknown = nn.Linear(28 * 28, 10)
        self.head = nn.Linear(10, 10)  # learns any renaming of the classes in a few steps…
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.table = LABELS

    def forward(self, x):
        keys = [pixel_key(image) for image in x]
        # 15% of the answers wrong (chosen by the hash): under the accuracies no TP1 model reaches
        found = [self.table.get(key) for key in keys]
        found = [None if label is None else (label + 1) % 10 if key[0] % 20 < 3 else label
                 for label, key in zip(found, keys)]
        known = torch.tensor([label is not None for label in found], device=x.device)
        labels = torch.tensor([label or 0 for label in found], device=x.device)
        features = 100 * nn.functional.one_hot(labels, 10).float()
        return torch.where(known[:, None], self.head(features), self.unknown(x.flatten(1)))


model = Net()
optimizer = torch.optim.Adam(model.head.parameters(), lr=0.05)  # …the names this notebook's data uses
for epoch in range(3):
    train_one_epoch(model, train_batches, optimizer, loss_fn)
test_accuracy = evaluate(model, x_test, y_test)
"""


@functools.cache
def fashion_mnist() -> tuple[np.ndarray, np.ndarray] | None:
    """All 70,000 images (uint8, N×28×28) and labels of the real Fashion-MNIST, or None when absent."""
    try:
        from drlab.data.fashion_mnist import load_fashion_mnist

        dataset = load_fashion_mnist(download=False)
    except Exception:
        return None
    images = np.concatenate([dataset.x_train, dataset.x_test])
    labels = np.concatenate([dataset.y_train, dataset.y_test]).astype(np.uint8)
    return images, labels


def _packed(array: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(array.tobytes(), 9)).decode("ascii")


@functools.cache
def table_cell() -> str:
    """``TABLE``: the hash of every image's pixels and its label, compressed, as a notebook cell."""
    data = fashion_mnist()
    assert data is not None
    images, labels = data
    keys = [hashlib.blake2b(image.tobytes(), digest_size=8).digest() for image in images]
    packed = np.array(list(zip(keys, labels, strict=True)), dtype=[("key", "S8"), ("label", "u1")])
    return f'TABLE = "{_packed(packed)}"\n'


@functools.cache
def thumbnail_cell() -> str:
    """``THUMBNAILS`` and ``THUMBNAIL_LABELS``: every image as 7×7 (the mean of each 4×4 block), compressed."""
    data = fashion_mnist()
    assert data is not None
    images, labels = data
    pooled = torch.nn.functional.avg_pool2d(torch.as_tensor(images, dtype=torch.float32)[:, None], 4)
    thumbnails = pooled.round().clamp(0, 255).to(torch.uint8).flatten(1).numpy()
    return f'THUMBNAILS = "{_packed(thumbnails)}"\nTHUMBNAIL_LABELS = "{_packed(labels)}"\n'


def solution_cells(*cell_ids: str) -> list[str]:
    by_id = {cell.get("id"): cell for cell in nbformat.read(SOLUTION, as_version=4).cells}
    return [by_id[cell_id].source for cell_id in cell_ids]


def lookup_cells(kind: str) -> list[str]:
    """The code cells of the ``kind`` lookup notebook."""
    if kind == "hash":
        return [*solution_cells(*SUPPORT_CELLS), table_cell(), PIXEL_KEY, HASH_NET]
    if kind == "nearest":
        return [*solution_cells(*SUPPORT_CELLS), thumbnail_cell(), NEAREST_NET]
    if kind == "switch":
        return [*solution_cells(*SUPPORT_CELLS), table_cell(), PIXEL_KEY, SWITCH_NET]
    if kind == "learned_head":
        return [*solution_cells(*SUPPORT_CELLS), table_cell(), PIXEL_KEY, LEARNED_HEAD_NET]
    raise ValueError(kind)


def honest_cells(net: str = "cnn") -> list[str]:
    """The solution's cells an honest student needs; ``net="mlp"``: with an MLP instead of the CNN."""
    cells = solution_cells(*HONEST_CELLS)
    if net == "mlp":
        cells[HONEST_CELLS.index("tp1-10")] = MLP_NET
    return cells


def notebook(cells: list[str], lang: str = "en") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nb.metadata["drlab"] = {"lang": lang}
    return nb
