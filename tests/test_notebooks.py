"""The course notebooks: stored clean, executed in a real kernel (tiny budget, offline), kept consistent.

- every ``notebooks/*.ipynb`` (and the instructor's TP1 solution, ``instructor/``) is stored without
  outputs and runs from top to bottom with ``DRLAB_NOTEBOOK_BUDGET=tiny`` (the TP1 exercise runs until
  its first TODO and stops there, as a student's "Run All" would; the solution is graded by
  ``drlab check tp1`` and must pass every check);
- the TP1 exercise and its solution differ only in the cells marked ``todo`` / ``solution``;
- the solution is not among what students receive (``notebooks/``, ``git archive``);
- ``environment.yml`` (conda) and ``pyproject.toml`` (pip) list the same dependencies.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXERCISE = NOTEBOOKS / "03_tp1_fashion_mnist.ipynb"
SOLUTION = ROOT / "instructor" / "03_tp1_fashion_mnist_solution.ipynb"
ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_course_notebooks_are_there() -> None:
    names = {path.name for path in ALL_NOTEBOOKS}
    assert {
        "01_gradient_descent_numpy.ipynb",
        "02_pytorch_regression.ipynb",
        "03_tp1_fashion_mnist.ipynb",
    } <= names
    assert SOLUTION.is_file()


def test_students_do_not_receive_the_solution() -> None:
    """The solution lives in instructor/, which `git archive` leaves out (export-ignore) and no package ships."""
    assert not any("solution" in path.name for path in ALL_NOTEBOOKS)
    attributes = (ROOT / ".gitattributes").read_text(encoding="utf-8").split("\n")
    assert "instructor/ export-ignore" in attributes


@pytest.mark.parametrize("path", [*ALL_NOTEBOOKS, SOLUTION], ids=lambda p: p.name)
def test_stored_without_outputs(path: Path) -> None:
    nb = read(path)
    nbformat.validate(nb)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]  # fmt: skip
    assert dirty == [], f"{path.name}: cells {dirty} hold outputs; clear them before committing"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def kernel_environment(budget: str) -> dict[str, str]:
    """The kernel's environment: ours, with the budget set and matplotlib left to the kernel (inline)."""
    env = dict(os.environ, DRLAB_NOTEBOOK_BUDGET=budget)
    env.pop("MPLBACKEND", None)  # ipykernel picks its inline backend only when none is forced
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def execute(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a notebook as Jupyter would, from its folder, in a fresh kernel of this Python (tiny budget)."""
    from nbclient import NotebookClient

    nb = read(path)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=kernel_environment("tiny"))
    return nb


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", [p for p in ALL_NOTEBOOKS if not p.name.startswith("03_tp1")], ids=lambda p: p.name
)
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    nb = execute(path)
    errors = [
        o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"
    ]
    assert errors == []


@pytest.mark.slow
def test_tp1_solution_passes_the_checker(capsys: pytest.CaptureFixture[str]) -> None:
    from drlab.cli import main

    code = main(["check", "tp1", str(SOLUTION), "--budget", "tiny", "--timeout", "600"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "score: 13/13 — all checks pass" in out


@pytest.mark.slow
def test_tp1_exercise_runs_until_its_first_todo() -> None:
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as failure:
        execute(EXERCISE)
    assert failure.value.ename == "NotImplementedError"
    assert "TODO 1" in failure.value.evalue
    nb = read(EXERCISE)
    (todo_index,) = [
        i for i, c in enumerate(nb.cells) if "todo" in c.metadata.get("tags", []) and "class Net" in c.source
    ]
    # the cell that failed is the first one to build a Net, just after TODO 1: everything above ran
    assert "Net()" in nb.cells[todo_index + 1].source
    assert "Net()" in str(failure.value)


def test_exercise_and_solution_differ_only_in_their_todo_cells() -> None:
    exercise, solution = read(EXERCISE), read(SOLUTION)
    assert len(exercise.cells) == len(solution.cells)
    todos = 0
    for mine, theirs in zip(exercise.cells, solution.cells, strict=True):
        tags, solution_tags = mine.metadata.get("tags", []), theirs.metadata.get("tags", [])
        if "todo" in tags:
            todos += 1
            assert solution_tags == ["solution"] and mine.cell_type == theirs.cell_type == "code"
            assert re.search(r"TODO \d", mine.source) and "raise NotImplementedError" in mine.source
            assert "TODO" not in theirs.source and "NotImplementedError" not in theirs.source
        elif "title" in tags:
            assert solution_tags == ["title"]
        else:
            assert (mine.cell_type, mine.source) == (theirs.cell_type, theirs.source)
    assert todos == 4


# --------------------------------------------------------------------------------------------------
# environment.yml ↔ pyproject.toml


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def parse_environment(text: str) -> tuple[dict[str, str], dict[str, str], str]:
    """The conda and pip requirements of an environment.yml (the simple layout of ours), and its name."""
    conda: dict[str, str] = {}
    pip: dict[str, str] = {}
    name, section = "", ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not raw.startswith(" "):
            section = line.split(":", 1)[0]
            if section == "name":
                name = line.split(":", 1)[1].strip()
            continue
        item = line.strip()
        if section != "dependencies" or not item.startswith("- "):
            continue
        value = item[2:].strip()
        if value == "pip:":
            continue
        target = pip if raw.startswith("      - ") else conda
        if value.startswith("-"):  # pip options (--extra-index-url …) and the editable install of drlab
            continue
        target[_requirement_name(value)] = value.replace(" ", "")
    return conda, pip, name


def test_environment_yml_agrees_with_pyproject() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {_requirement_name(spec): spec.replace(" ", "") for spec in project["dependencies"]}
    wanted.update(
        {_requirement_name(s): s.replace(" ", "") for s in project["optional-dependencies"]["notebooks"]}
    )

    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    conda, pip, name = parse_environment(text)
    assert name == "drlab"
    # conda brings what pip cannot (Python, pip, Graphviz's `dot` program) and Jupyter itself
    assert conda.pop("python") == "python" + project["requires-python"]
    assert set(conda) == {"pip", "graphviz", "jupyter"}
    python_packages = {**pip, "jupyter": conda["jupyter"]}
    assert python_packages == wanted
    assert "- -e ." in text  # drlab itself
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text  # the CPU build, as setup.sh


def test_environment_parser_sees_a_difference() -> None:
    conda, pip, _ = parse_environment(
        "name: x\ndependencies:\n  - python>=3.10\n  - pip:\n      - numpy>=2  # why\n      - -e .\n"
    )
    assert conda == {"python": "python>=3.10"} and pip == {"numpy": "numpy>=2"}
