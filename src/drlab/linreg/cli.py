"""``drlab linreg`` and ``drlab graph``: lecture §2–4 from the command line.

Only the standard library and light drlab modules are imported here; the handlers import NumPy,
torch and matplotlib when they run, so ``drlab --help`` answers at once.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from drlab.common.config import add_command, add_dataclass_arguments, dataclass_from_namespace
from drlab.linreg.config import GraphConfig, LinregConfig

LINREG_DESCRIPTION = """\
Fit y = a + b·x to the lecture's data (np.random.seed(40), 100 points, 80 train / 20 validation)
by gradient descent ("descente de gradient"), in the order of the lecture:

  NumPy, gradients derived by hand (§2)     PyTorch (§3–4), one step at a time
    numpy-batch      all N samples/update     autograd   loss.backward(), update in torch.no_grad()
    numpy-sgd        1 sample/update          optim      optim.SGD: step() and zero_grad()
    numpy-minibatch  n samples/update         loss       nn.MSELoss
                                              module     ManualLinearRegression(nn.Module), nn.Parameter
                                              layer      LayerLinearRegression: nn.Linear(1, 1)

Each iteration is the lecture's four steps: ❶ forward pass, ❷ loss, ❸ gradients, ❹ update.
Every method is measured against the closed-form least-squares fit ("moindres carrés").
"""

LINREG_EPILOG = """\
examples:
  drlab linreg                                  all eight methods, the lecture's settings
  drlab linreg --method numpy-batch --epochs 50 watch it stop short of the optimum
  drlab linreg --method numpy-minibatch --batch-size 8
  drlab linreg --method all --plot plots/       + fitted lines and loss curves as PNG
  drlab linreg --json                           one JSON object, for scripts

vocabulary (English / français):
  gradient descent / descente de gradient     learning rate η / pas d'apprentissage
  epoch / époque (one pass over the N samples) loss / fonction de perte (here the MSE)
  batch, mini-batch, stochastic / lot, mini-lot, stochastique
  forward pass / propagation avant             gradient / gradient (dérivées partielles)
"""

GRAPH_DESCRIPTION = """\
Draw the lecture's dynamic computation graphs ("graphes de calcul dynamiques") with torchviz:
yhat, error and loss; the dynamic example (an `if` adds a branch at run time); and a with
requires_grad=False (it disappears from the graph). Writes NAME.dot and NAME.svg (or .png) per graph.
Blue boxes: tensors that get a gradient; grey: operations; green: where backward() starts.
"""

GRAPH_EPILOG = """\
examples:
  drlab graph --out graphs/                     five SVG pictures and their .dot sources
  drlab graph --out graphs/ --format png

Rendering needs Graphviz's `dot` program; without it the .dot sources are still written.
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``linreg`` and ``graph`` to the drlab command line."""
    linreg = add_command(
        subparsers,
        "linreg",
        help="linear regression by gradient descent: NumPy, then PyTorch step by step (lecture §2–4)",
        description=LINREG_DESCRIPTION,
        epilog=LINREG_EPILOG,
    )
    add_dataclass_arguments(linreg, LinregConfig)
    linreg.set_defaults(handler=run_linreg)

    graph = add_command(
        subparsers,
        "graph",
        help="draw the lecture's computation graphs (torchviz)",
        description=GRAPH_DESCRIPTION,
        epilog=GRAPH_EPILOG,
    )
    add_dataclass_arguments(graph, GraphConfig)
    graph.set_defaults(handler=run_graph)


def run_linreg(args: argparse.Namespace) -> int:
    """Run the methods asked for and print the table (or the JSON object); plot if asked."""
    config = dataclass_from_namespace(LinregConfig, args)
    config.check()  # before any heavy import: a bad argument answers at once

    import numpy as np

    from drlab.common.io import dumps_json
    from drlab.common.seeding import seed_everything
    from drlab.linreg.lab import format_table, run_lab

    plot_names = ["linreg_fits.png", "linreg_losses.png"]
    if config.plot is not None:  # refused before anything runs: a picture drlab did not write there
        from drlab.common.runfiles import inspect_output_folder

        inspect_output_folder(config.plot, plot_names, option="--plot")
    seed_everything(config.seed)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging η is reported below, in one line
        report = run_lab(config)
    if config.json:
        print(dumps_json(report.as_dict()))  # strict JSON: a diverged figure is null, never NaN
    else:
        print(format_table(report, config))
    diverged = [r.method for r in report.results if not (math.isfinite(r.a) and math.isfinite(r.b))]
    if diverged:
        print(
            f"warning: gradient descent diverged with --lr {config.lr:g} ({', '.join(diverged)}): the "
            "steps overshoot the minimum and grow; try a smaller learning rate (the lecture uses 0.1)",
            file=sys.stderr,
        )
    if config.plot is not None:
        from drlab.common.runfiles import claim_output_folder, write_run_files
        from drlab.linreg.plots import plot_fits, plot_losses

        figures = {  # both drawn before either is written: never one picture of the two
            plot_names[0]: plot_fits(report.data, report.results, report.ols),
            plot_names[1]: plot_losses(report.results),
        }
        with claim_output_folder(config.plot, plot_names, option="--plot") as out:
            written = write_run_files(out, figures=figures)
        # with --json, stdout holds the JSON object alone
        shown = ", ".join(str(out.path / name) for name in written)
        print(f"wrote {shown}", file=sys.stderr if config.json else sys.stdout)
    return 0


def run_graph(args: argparse.Namespace) -> int:
    """Write the graphs; where `dot` is missing, write the sources and say how to get Graphviz."""
    config = dataclass_from_namespace(GraphConfig, args)
    config.check()

    from drlab.common.seeding import seed_everything
    from drlab.linreg.data import make_data
    from drlab.linreg.graph import INSTALL_HINT, render_graphs

    seed_everything(config.seed)
    data = make_data(seed=config.data_seed)
    files = render_graphs(config.out, config.format, seed=config.seed, data=data)
    for picture in files.pictures:
        print(f"wrote {picture}")
    if files.dot_missing:
        print(f"wrote {len(files.sources)} .dot sources in {config.out}")
        print(f"note: {INSTALL_HINT}", file=sys.stderr)
    return 0
