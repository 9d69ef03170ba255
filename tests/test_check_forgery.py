"""Forged frames: how far a notebook gets by writing the grader's data channel itself.

The student's cells run in the same process as drlab's harvest driver (:mod:`drlab.check.harvest`), so
a cell can find the channel (``sys.argv[2]``, a pipe's file descriptor), write well-formed frames to it
first (the grader keeps the first frame of each name) and leave with ``os._exit(0)`` before the driver
calls anything. The grader decides every check on data it can hold against its own reference, so a
forged frame passes only when it holds what a right computation gives.

Forgers, each a stronger version of the one before, graded beside an empty notebook through the real
command line and sandbox (``drlab check tp1 … --budget tiny``):

- ``claims``: only claims — the cells ran, ``Net()`` gives (5, 10) raw scores with 100,000 weights,
  the model was in training mode in ``train_one_epoch`` and in eval mode without autograd in
  ``evaluate``, and ``evaluate`` returned 0.5. No computation on anything the grader sent. What passes:
  the checks of ``Net()``'s output and size, which are the data themselves (any (5, 10) tensor of raw
  scores *is* a right answer), and "runs", which an empty notebook passes too.
- ``references``: does the lecture's work on the grader's probes, outside the named functions: the
  four steps (three epochs with Adam, one epoch of two batches with SGD), one forward pass in training
  mode of the batch-norm probe, each probe's accuracy in eval mode without autograd, the cross-entropy
  and its gradient. The probes, their data and labels are in the request (the student's functions must
  train and measure them); the grader's expected values are not, and a forger only gets them by
  computing them right.
- ``lookup``: also claims a trained ``Net`` whose logits come from a nearest-neighbour lookup of the
  *public* test set (the notebook reads it to measure ``test_accuracy``). The grader measures the model
  on training images it kept back, which are nowhere in the sandbox: 1.0 on the public images, far less
  on the private ones — caught.
- ``neighbours``: claims a trained "Net" that is a 1-nearest-neighbour classifier over the notebook's
  own training images (whose classes the grader renamed: issue 23). It classifies images it never saw,
  with the numbers of the data it was given, so it passes both checks of the trained model: the grader
  verifies that the model classifies, not that it is the student's ``Net`` trained by their
  ``train_one_epoch`` (that claim, ``is_net``, comes from the sandbox).

And three notebooks that forge nothing, graded by the real driver: ``lookup_net``, a real ``Net`` whose
``forward`` is the public test set lookup (it fails both checks of the trained model); and the honest
equivalents of two forgers — ``degenerate_net``, the least real code that does what ``claims`` claims
(a ``Net`` of 100,000 unused weights that returns random (B, 10) scores), and ``neighbours_net``, the
``neighbours`` classifier written as a genuine ``Net``. Each scores what its forger scores, less the
work it does not do (the probes): the verdicts depend on the data only, so a forged frame gains nothing
over real code that computes the same data.

The measured truth, asserted exactly so that a change of the grader that widens (or closes) the gap
shows here: see ``CEILINGS``.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import nbformat
import pytest

from drlab.check.sandbox import bwrap_problem
from drlab.check.tp1 import CHECK_IDS
from drlab.cli import main

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")

#: the first cell of every forger: the channel, the request, drlab's own frame writer
OPEN_CHANNEL = """\
import importlib.util, os, sys
import torch
from torch import nn
from safetensors.torch import load_file

request_dir, fd = sys.argv[1], int(sys.argv[2])  # harvest.py REQUEST_DIR CHANNEL_FD
spec = importlib.util.spec_from_file_location("forged_harvest", f"{request_dir}/harvest.py")
h = importlib.util.module_from_spec(spec)
spec.loader.exec_module(h)  # the driver's own Channel and ProbeNet
sent = load_file(f"{request_dir}/request.safetensors")
channel = h.Channel(fd)


def real(value):
    return {"type": "float", "kind": "real", "value": float(value)}


plausible_net = {"param.0": torch.zeros(100_000)}  # a "Net" of 100,000 weights: no Net at all
"""

#: claims the grader cannot check against anything of its own
CLAIMS = """\
channel.send("cells", {"errors": [], "timed_out_at": None, "seconds": 1.0, "defined": list(h.CONTRACT)})
channel.send(
    "net",
    {"status": "ok", "output": {"type": "Tensor", "kind": "tensor", "value": None}},
    {**plausible_net, "output": torch.randn(5, 10)},
)
channel.send("train_mode", {"error": None, "calls": [[True, True]]})
channel.send("eval_mode", {"error": None, "returned": real(0.5)})
channel.send("eval_no_grad", {"error": None, "returned": real(0.5)})
"""

#: the grader's references, computed from what the grader sent (the lecture's four steps on its probes)
REFERENCES = """\
def epoch(probe, batches, optimizer, smoothing=0.0):
    probe.train()
    losses = []
    for x, y in batches:
        loss = nn.functional.cross_entropy(probe(x), y, label_smoothing=smoothing)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def accuracy(probe, x, y):
    probe.eval()
    with torch.no_grad():
        return float((probe(x).argmax(dim=1) == y).float().mean())


probe = h.make_probe(sent, "lowers")
optimizer = torch.optim.Adam(probe.parameters(), lr=0.01)
for _ in range(3):
    epoch(probe, [(sent["lowers.x"], sent["lowers.y"])], optimizer)
channel.send("train_lowers", {"error": None}, h.trainable(probe))

probe = h.make_probe(sent, "zero_grad")
x, y = sent["zero_grad.x"], sent["zero_grad.y"]
# the loss_fn the grader hands this probe: a cross-entropy with label smoothing (h.PROBE_TRAINING)
sgd = torch.optim.SGD(probe.parameters(), lr=0.1)
mean_loss = epoch(probe, [(x[:16], y[:16]), (x[16:], y[16:])], sgd, h.PROBE_TRAINING["zero_grad"][4])
channel.send("train_zero_grad", {"error": None, "returned": real(mean_loss)}, h.trainable(probe))

probe = h.make_probe(sent, "train_mode")
probe.train()
with torch.no_grad():
    probe(sent["train_mode.x"])  # one forward pass in training mode: the batch-norm statistics move
channel.send(
    "train_mode", {"error": None, "calls": [[True, True]]}, {f"buffer.{k}": v for k, v in probe.named_buffers()}
)

probe = h.make_probe(sent, "evaluate")
channel.send(
    "evaluate",
    {
        "error": None,
        "calls": [[False, False]],
        "returned": real(accuracy(probe, sent["evaluate.x"], sent["evaluate.y"])),
        "returned_big": real(accuracy(probe, sent["evaluate_big.x"], sent["evaluate_big.y"])),
    },
)
for name in ("eval_mode", "eval_no_grad"):
    probe = h.make_probe(sent, name)
    channel.send(name, {"error": None, "returned": real(accuracy(probe, sent[f"{name}.x"], sent[f"{name}.y"]))})

logits, labels = sent["loss.logits"], sent["loss.y"]
gradient = (torch.softmax(logits, dim=1) - nn.functional.one_hot(labels, 10)) / len(labels)
channel.send(
    "loss",
    {"type": "CrossEntropyLoss", "error": None, "returned": real(nn.functional.cross_entropy(logits, labels))},
    {"grad": gradient},
)
"""

#: what the claims-only forger says of evaluate: the modes, and a number it did not compute
CLAIMED_EVALUATE = """\
channel.send("evaluate", {"error": None, "calls": [[False, False]], "returned": real(0.5), "returned_big": real(0.5)})
"""

#: the nearest-neighbour notebooks' first cell: the splits the notebook sees, normalised as the grader
#: normalises, and the label of each image's nearest neighbour among some references, as (B, 10) scores
NEAREST = """\
import os

import torch
from torch import nn

from drlab.data import Batches
from drlab.data.tp1 import load_tp1_dataset

dataset, _ = load_tp1_dataset(os.environ.get("DRLAB_NOTEBOOK_BUDGET", "full"))
normalise = dict(batch_size=1000, mean=dataset.mean, std=dataset.std, shuffle=False)
train = Batches(dataset.x_train, dataset.y_train, **normalise)
test = Batches(dataset.x_test, dataset.y_test, **normalise)


def nearest_label(images, references):
    keys = references.x.flatten(1)
    nearest = torch.cat([torch.cdist(chunk.flatten(1), keys).argmin(dim=1) for chunk in images.split(1000)])
    return 10 * nn.functional.one_hot(references.y[nearest].long(), 10).float()
"""


def forged_model(references: str, test_accuracy: str) -> str:
    """A cell that claims a trained ``Net`` whose logits are the nearest labels among ``references``
    (``test``: a lookup of the public test set; ``train``: a 1-NN classifier), with ``test_accuracy``."""
    return f"""\
channel.send(
    "model",
    {{"status": "ok", "is_net": True, "type": "Net", "inputs": {{}}, "test_accuracy": real({test_accuracy})}},
    {{**plausible_net, **{{f"logits.{{name}}": nearest_label(sent[name], {references}) for name in ("test", "private")}}}},
)
"""


def nearest_net(references: str, test_accuracy: str) -> str:
    """No forged frame: a genuine ``Net`` whose forward is the nearest label among ``references``."""
    return f"""\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(784, 10)  # a plausible size; it never learns anything

    def forward(self, x):
        return nearest_label(x, {references})


model = Net()
test_accuracy = {test_accuracy}
"""


#: what the 1-NN classifier over the notebook's own training images measures on the public test split
NEIGHBOURS_ACCURACY = "float((nearest_label(test.x, train).argmax(dim=1) == test.y).float().mean())"

#: no forged frame: the least real code that does what the claims-only forger claims of Net
DEGENERATE_NET = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(100_000))  # 100,000 weights, used for nothing

    def forward(self, x):
        return torch.randn(len(x), 10)  # (B, 10) raw scores: no image is looked at
"""

#: the driver never gets to call anything: its frames would come second, and be dropped anyway
LEAVE = 'channel.send("done", {})\nos._exit(0)'

FORGERS = {
    "claims": [OPEN_CHANNEL, CLAIMS, CLAIMED_EVALUATE, LEAVE],
    "references": [OPEN_CHANNEL, REFERENCES, CLAIMS, LEAVE],
    "lookup": [OPEN_CHANNEL, REFERENCES, NEAREST, forged_model("test", "1.0"), CLAIMS, LEAVE],
    "neighbours": [
        OPEN_CHANNEL,
        REFERENCES,
        NEAREST,
        forged_model("train", NEIGHBOURS_ACCURACY),
        CLAIMS,
        LEAVE,
    ],
    "lookup_net": [NEAREST, nearest_net("test", "1.0")],
    "degenerate_net": [DEGENERATE_NET],
    "neighbours_net": [NEAREST, nearest_net("train", NEIGHBOURS_ACCURACY)],
}

#: what each forger gets, measured (seed 5, budget tiny)
NEVER_VERIFIED = {"runs", "net_output", "net_logits", "net_size"}
AGAINST_PROBES = {
    "train_lowers_loss", "train_zero_grad", "train_returns_loss", "train_mode",
    "eval_accuracy", "eval_mode", "eval_no_grad", "loss_fn",
}  # fmt: skip
AGAINST_PRIVATE_IMAGES = {"model_accuracy", "reported_accuracy"}
CEILINGS = {
    "claims": NEVER_VERIFIED,
    "references": NEVER_VERIFIED | AGAINST_PROBES,
    "lookup": NEVER_VERIFIED | AGAINST_PROBES,
    # a classifier that is no Net, over the notebook's own training images: it classifies
    "neighbours": NEVER_VERIFIED | AGAINST_PROBES | AGAINST_PRIVATE_IMAGES,
    "lookup_net": NEVER_VERIFIED,
    # the honest equivalents: a forged frame gains nothing over real code that computes the same data
    "degenerate_net": NEVER_VERIFIED,  # = claims
    # = neighbours, without the probe work: a classifier of the data it was given, renamed classes and all
    "neighbours_net": NEVER_VERIFIED | AGAINST_PRIVATE_IMAGES,
}


def forged_notebook(cells: list[str]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])


@pytest.mark.slow
def test_forged_frames_reach_the_measured_ceiling_and_no_further(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(CHECK_IDS) == NEVER_VERIFIED | AGAINST_PROBES | AGAINST_PRIVATE_IMAGES  # every check sorted
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(forged_notebook(["print('hello')"]), submissions / "empty.ipynb")
    for name, cells in FORGERS.items():
        nbformat.write(forged_notebook(cells), submissions / f"forger_{name}.ipynb")
    scores = tmp_path / "scores.csv"

    started = time.monotonic()
    code = main(
        ["check", "tp1", str(submissions), "--csv", str(scores), "--budget", "tiny", "--timeout", "120",
         "--check-seconds", "10", "--jobs", "2", "--seed", "5"]
    )  # fmt: skip
    seconds = time.monotonic() - started
    capsys.readouterr()

    with open(scores, newline="", encoding="utf-8") as handle:
        rows = {Path(row["notebook"]).stem: row for row in csv.DictReader(handle)}
    assert int(rows["empty"]["score"]) == 1
    for name, ceiling in CEILINGS.items():
        row = rows[f"forger_{name}"]
        assert row["sandbox"] == "bwrap"
        passed = {check_id for check_id in CHECK_IDS if row[check_id] == "1"}
        assert passed == ceiling, (name, row["first_problem"])
        assert int(row["score"]) == len(ceiling)
    assert code == 1
    print(f"graded {len(rows)} notebooks in {seconds:.0f} s")
