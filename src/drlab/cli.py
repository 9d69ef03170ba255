"""The ``drlab`` command line: parses arguments and dispatches to the wings.

Each wing owns a small ``cli`` module with ``register(subparsers)``, which adds its commands and sets
``handler`` (``args -> exit code``). Those modules import only the standard library and drlab's light
config modules, so ``drlab --help`` answers at once; torch and matplotlib are imported by the handlers.

Errors the user can fix come out as one line, ``error: …`` on stderr, exit 2 (exit 1 when the world
failed: a download, a diverged run), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from drlab import __version__
from drlab.common.config import HelpFormatter
from drlab.common.errors import DrlabError

# The wings, in the order of the course; each module defines register(subparsers).
COMMAND_MODULES = (
    "drlab.linreg.cli",  # linreg, graph        — lecture §2–4
    "drlab.data.cli",  # data download/verify/info
    "drlab.train.cli",  # train, evaluate, predict — TP1
    "drlab.check.cli",  # check tp1             — grading the TP1 notebook
    "drlab.rl.cli",  # rl qlearning/dqn/evaluate — where the course goes next
)

DESCRIPTION = """\
drlab — the hands-on companion to the course "Apprentissage profond par renforcement".

Follow the lecture in order:
  drlab linreg --method all        gradient descent ("descente de gradient"), NumPy then PyTorch
  drlab graph --out graphs/        the dynamic computation graphs, drawn
  drlab data info fashion-mnist    the TP1 data: where it is cached, whether it is verified
  drlab train --dataset digits     TP1: train a classifier (offline on 8x8 digits)
  drlab rl dqn                     deep Q-learning on CartPole

Every command takes --seed, and `drlab COMMAND --help` explains its options.
"""


# Each command's page in the documentation (mkdocs.yml, docs/): the file under docs/ and its title in the
# site's navigation. Every --help ends with its command's pages; a sub-command without a line of its own
# gets its parent's. tests/test_docs.py checks that each page exists and is in the site's navigation.
DOC_PAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (("getting-started.md", "Getting started"),),
    "linreg": (("lecture.md", "The lecture, §2–4"),),
    "graph": (("lecture.md", "The lecture, §2–4"),),
    "data": (("data.md", "The data"),),
    "train": (("training.md", "Training and recipes"), ("distributed.md", "Several processes and machines")),
    "evaluate": (("training.md", "Training and recipes"),),
    "predict": (("training.md", "Training and recipes"),),
    "check": (("grading.md", "Grading a class"),),
    "rl": (("rl/index.md", "Deep RL"),),
    "rl qlearning": (("rl/qlearning.md", "Tabular Q-learning"),),
    "rl dqn": (("rl/dqn.md", "DQN"),),
    "rl reinforce": (("rl/reinforce.md", "REINFORCE"),),
    "rl a2c": (("rl/a2c.md", "A2C"),),
    "rl ppo": (("rl/ppo.md", "PPO"),),
    "rl evaluate": (("rl/index.md", "Deep RL"),),
}


def doc_pages(command: str) -> tuple[tuple[str, str], ...]:
    """The pages that explain ``command`` ("rl dqn"; "" for drlab itself), or its nearest parent's."""
    while command not in DOC_PAGES:
        command = command.rpartition(" ")[0]
    return DOC_PAGES[command]


def docs_epilog(command: str) -> str:
    """The last lines of ``command``'s --help: where its documentation is, in the repository and the site."""
    pages = [(f"docs/{path}", title) for path, title in doc_pages(command)]
    width = max(len(path) for path, _ in pages)
    lines = [f'  {path:<{width}}   "{title}"' for path, title in pages]
    return (
        "documentation (in the repository, and its page in the site mkdocs builds from docs/):\n"
        + "\n".join(lines)
        + "\n"
    )


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands that ``parser`` dispatches to, by name (aliases left out)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    found[name] = sub
    return found


def _end_with_docs(parser: argparse.ArgumentParser, command: str = "") -> None:
    epilog = (parser.epilog or "").rstrip("\n")
    parser.epilog = (epilog + "\n\n" if epilog else "") + docs_epilog(command)
    for name, sub in subcommands(parser).items():
        _end_with_docs(sub, f"{command} {name}".strip())


class DrlabArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``error: …`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> DrlabArgumentParser:
    parser = DrlabArgumentParser(prog="drlab", description=DESCRIPTION, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"drlab {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    _end_with_docs(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``drlab`` console script and of ``python -m drlab``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except DrlabError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # the reader went away (`drlab linreg | head`): stop quietly, as Unix tools do; point stdout at
        # devnull so that Python's final flush does not raise again (recipe from the `signal` docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except MemoryError:
        print("error: out of memory (the run asked for more than this machine could give)", file=sys.stderr)
        return 1
    except OSError as exc:
        # the world failed (a read-only folder, a vanished disk): one line, as for every other failure
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {one_line(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "error: interrupted (files already written are complete; partial ones were discarded)",
            file=sys.stderr,
        )
        return 130


def one_line(message: str) -> str:
    """``message`` as one line of plain text: a newline, a carriage return or an escape sequence in it
    (a file name an attacker chose, a path typed by hand) is shown escaped (``\\n``, ``\\x1b``), never
    acted on by the terminal."""
    return "".join(
        char if char.isprintable() or char == " " else char.encode("unicode_escape").decode("ascii")
        for char in message
    )


if __name__ == "__main__":
    raise SystemExit(main())
