"""Lecture §3 — the dynamic computation graph ("graphe de calcul dynamique"), drawn with torchviz.

PyTorch builds the graph while the forward pass runs: every operation on a tensor that requires grad
adds a node (``AddBackward0`` for ``+``, ``MulBackward0`` for ``*``, ``SubBackward0``, ``PowBackward0``,
``MeanBackward0``…), and ``backward()`` walks it back. ``torchviz.make_dot`` draws it as the slides do:

- blue boxes: the tensors we asked gradients for (a and b);
- grey boxes: the operations that take part in the gradient;
- the green box: where ``backward()`` would start.

Five pictures, as in the lecture: ``yhat``, ``error``, ``loss``; ``dynamic`` — a Python ``if`` decides
at run time which operations enter the graph; ``a_no_grad`` — with ``requires_grad=False`` a is not
drawn at all, only the tensors that need a gradient are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drlab.common.runfiles import claim_output_folder, inspect_output_folder
from drlab.linreg.data import RegressionData, make_data

if TYPE_CHECKING:
    import graphviz

GRAPH_NAMES = ("yhat", "error", "loss", "dynamic", "a_no_grad")

INSTALL_HINT = (
    "Graphviz's `dot` program was not found, so only the .dot sources were written; install Graphviz "
    "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; conda: conda install "
    "graphviz) and rerun, or render one by hand with `dot -Tsvg yhat.dot -o yhat.svg`"
)


def lecture_graphs(seed: int = 42, data: RegressionData | None = None) -> dict[str, graphviz.Digraph]:
    """Build the lecture's five graphs with ``make_dot`` (no file written, no `dot` needed)."""
    import torch
    from torchviz import make_dot as torchviz_make_dot

    def make_dot(var: torch.Tensor, params: dict[str, torch.Tensor]) -> graphviz.Digraph:
        with warnings.catch_warnings():
            # torchviz compares versions with distutils' LooseVersion, which warns on every call
            warnings.simplefilter("ignore", DeprecationWarning)
            return torchviz_make_dot(var, params=params)

    from drlab.linreg.torch_steps import to_tensors, torch_seed

    x_train_tensor, y_train_tensor = to_tensors(make_data() if data is None else data)
    with torch_seed(seed):
        a = torch.randn(1, requires_grad=True, dtype=torch.float)
        b = torch.randn(1, requires_grad=True, dtype=torch.float)
    params = {"a": a, "b": b}  # names for the blue boxes

    yhat = a + b * x_train_tensor
    error = y_train_tensor - yhat
    loss = (error**2).mean()
    graphs = {
        "yhat": make_dot(yhat, params=params),
        "error": make_dot(error, params=params),
        "loss": make_dot(loss, params=params),
    }

    # The graph is dynamic: it is whatever the Python code ran, branches included
    if loss > 0:
        yhat2 = b * x_train_tensor
        error2 = y_train_tensor - yhat2
        loss += error2.mean()
    graphs["dynamic"] = make_dot(loss, params=params)

    # a without requires_grad: no gradient flows to it, so it is not drawn
    with torch_seed(seed):
        a = torch.randn(1, requires_grad=False, dtype=torch.float)
        b = torch.randn(1, requires_grad=True, dtype=torch.float)
    yhat = a + b * x_train_tensor
    graphs["a_no_grad"] = make_dot(yhat, params={"b": b})
    return graphs


@dataclass
class GraphFiles:
    """What :func:`render_graphs` wrote."""

    sources: list[Path] = field(default_factory=list)
    """the Graphviz sources, one ``NAME.dot`` per graph (always written)"""
    pictures: list[Path] = field(default_factory=list)
    """the rendered ``NAME.svg`` / ``NAME.png`` (empty when `dot` is missing)"""
    dot_missing: bool = False
    """True when Graphviz's `dot` program could not be found"""


def render_graphs(
    out_dir: str | Path, fmt: str = "svg", seed: int = 42, data: RegressionData | None = None
) -> GraphFiles:
    """Write each graph's ``.dot`` source and, where Graphviz's `dot` exists, its SVG or PNG picture."""
    import graphviz

    if fmt not in ("svg", "png"):
        raise ValueError(f"format must be svg or png, got {fmt!r}")
    # only files drlab wrote there before may be replaced (a thesis' own loss.svg is refused)
    names = [f"{name}.{ext}" for name in GRAPH_NAMES for ext in ("dot", fmt)]
    inspect_output_folder(out_dir, names)
    graphs = lecture_graphs(seed, data)
    files = GraphFiles()
    contents: dict[str, bytes] = {}
    for name, digraph in graphs.items():
        contents[f"{name}.dot"] = digraph.source.encode("utf-8")
        if files.dot_missing:
            continue
        try:
            contents[f"{name}.{fmt}"] = digraph.pipe(format=fmt)  # runs `dot`
        except graphviz.ExecutableNotFound:
            files.dot_missing = True
    with claim_output_folder(out_dir, names) as out:
        for name in out.write(contents):
            (files.sources if name.endswith(".dot") else files.pictures).append(out.path / name)
    return files
