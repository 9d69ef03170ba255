"""The course notebooks: stored clean, executed in a real kernel (tiny budget, offline), kept consistent.

- two editions: English in ``notebooks/``, French in ``notebooks/fr/`` (same file names). Their code cells
  are identical — code is written once, in the English edition, and copied — only the prose differs;
- every notebook of both editions (and the instructor's TP1 solutions, ``instructor/`` and
  ``instructor/fr/``) is stored without outputs and runs from top to bottom with
  ``DRLAB_NOTEBOOK_BUDGET=tiny`` (the TP1 exercise runs until its first TODO and stops there, as a
  student's "Run All" would; the solution is graded by ``drlab check tp1`` and must pass every check);
- the TP1 exercise and its solution differ only in the cells marked ``todo`` / ``solution`` (and the title);
- the solution is not among what students receive (``notebooks/``, ``git archive``);
- one word for the forward pass: "propagation avant", in the notebooks and in ``drlab linreg --help``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from _typography import french_typography_problems, prose

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EDITIONS = {"en": NOTEBOOKS, "fr": NOTEBOOKS / "fr"}
# the instructor's solutions, one per edition, outside what students receive
SOLUTIONS = {"en": ROOT / "instructor", "fr": ROOT / "instructor" / "fr"}
EXERCISE = "03_tp1_fashion_mnist.ipynb"
SOLUTION = "03_tp1_fashion_mnist_solution.ipynb"
ALL_NOTEBOOKS = [path for folder in EDITIONS.values() for path in sorted(folder.glob("*.ipynb"))]
SOLUTION_NOTEBOOKS = [folder / SOLUTION for folder in SOLUTIONS.values()]


def name_of(path: Path) -> str:
    """``notebooks/01_….ipynb``, ``notebooks/fr/01_….ipynb``, ``instructor/fr/03_…_solution.ipynb``."""
    return path.relative_to(ROOT).as_posix()


def edition_of(path: Path) -> str:
    folders = [*EDITIONS.items(), *SOLUTIONS.items()]
    return next(lang for lang, folder in folders if path.parent == folder)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_the_course_notebooks_are_there_in_both_editions() -> None:
    english = {path.name for path in EDITIONS["en"].glob("*.ipynb")}
    assert {
        "01_gradient_descent_numpy.ipynb",
        "02_pytorch_regression.ipynb",
        EXERCISE,
        "04_dqn_cartpole.ipynb",
        "05_policy_gradient.ipynb",
        "06_ppo.ipynb",
    } <= english
    assert {path.name for path in EDITIONS["fr"].glob("*.ipynb")} == english
    assert all(path.is_file() for path in SOLUTION_NOTEBOOKS)


def test_students_do_not_receive_the_solution() -> None:
    """The solutions live in instructor/, which `git archive` leaves out (export-ignore) and no package ships."""
    assert not any("solution" in path.name for path in ALL_NOTEBOOKS)
    assert not any(NOTEBOOKS.rglob("*solution*"))
    attributes = (ROOT / ".gitattributes").read_text(encoding="utf-8").split("\n")
    assert "instructor/ export-ignore" in attributes  # the folder and all below it, instructor/fr/ included


@pytest.mark.parametrize("path", [*ALL_NOTEBOOKS, *SOLUTION_NOTEBOOKS], ids=name_of)
def test_stored_without_outputs(path: Path) -> None:
    nb = read(path)
    nbformat.validate(nb)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]  # fmt: skip
    assert dirty == [], f"{name_of(path)}: cells {dirty} hold outputs; clear them before committing"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    # the language of the prose, for tools (the checker answers in it)
    assert nb.metadata.get("drlab", {}).get("lang") == edition_of(path)


def code_cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """What must agree between editions: each code cell's id, source and tags, in order."""
    return [
        (cell.get("id", ""), cell.source, list(cell.metadata.get("tags", [])))
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


def edition_differences(english: nbformat.NotebookNode, french: nbformat.NotebookNode) -> list[str]:
    """Where the French edition's code departs from the English one (empty: identical code)."""
    mine, theirs = code_cells(english), code_cells(french)
    problems = (
        [f"{len(mine)} code cells in English, {len(theirs)} in French"] if len(mine) != len(theirs) else []
    )
    for (id_en, source_en, tags_en), (id_fr, source_fr, tags_fr) in zip(
        mine, theirs, strict=False
    ):  # a missing cell is reported above
        if (id_en, source_en, tags_en) != (id_fr, source_fr, tags_fr):
            first_line = source_en.splitlines()[0] if source_en else ""
            problems.append(
                f"code cell {id_en!r} ({first_line!r}…) differs: copy it from the English edition"
            )
    return problems


@pytest.mark.parametrize("name", sorted(p.name for p in EDITIONS["en"].glob("*.ipynb")))
def test_french_code_cells_are_the_english_ones(name: str) -> None:
    english, french = read(EDITIONS["en"] / name), read(EDITIONS["fr"] / name)
    assert edition_differences(english, french) == []
    # ... while the prose is the French edition's own: no markdown cell left in English
    english_prose = {cell.source for cell in english.cells if cell.cell_type == "markdown"}
    untranslated = [
        cell.source.splitlines()[0]
        for cell in french.cells
        if cell.cell_type == "markdown" and cell.source in english_prose
    ]
    assert untranslated == []


def test_the_edition_comparison_sees_a_changed_line() -> None:
    nb = read(EDITIONS["en"] / "01_gradient_descent_numpy.ipynb")
    changed = read(EDITIONS["en"] / "01_gradient_descent_numpy.ipynb")
    cell = next(c for c in changed.cells if c.cell_type == "code" and "LR = 0.1" in c.source)
    cell.source = cell.source.replace("LR = 0.1", "LR = 0.2")
    assert edition_differences(nb, nb) == []
    assert len(edition_differences(nb, changed)) == 1
    changed.cells = [c for c in changed.cells if c is not cell]
    n = len(code_cells(nb))
    assert edition_differences(nb, changed)[0] == f"{n} code cells in English, {n - 1} in French"


# the French notebooks written to the rule of tests/_typography.py (01–04 predate it and use ordinary spaces)
TYPESET_FRENCH = ["05_policy_gradient.ipynb", "06_ppo.ipynb"]


@pytest.mark.parametrize("name", TYPESET_FRENCH)
def test_french_notebooks_follow_french_typography(name: str) -> None:
    """No-break spaces before : ; ? ! in the prose, and French decimals (0,99) rather than English ones."""
    cells = read(EDITIONS["fr"] / name).cells
    text = "\n\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    assert french_typography_problems(text) == []
    assert re.search(r"\w\u00a0:", prose(text)), "no French colon at all: is this the French edition?"
    assert re.findall(r"\b\d+\.\d+\b", prose(text)) == []  # 0,99, not 0.99 (code and math aside)


def test_the_typography_rule_sees_what_it_forbids() -> None:
    assert french_typography_problems("Le retour\u00a0: G. Pourquoi\u202f? Oui\u202f; non\u202f!") == []
    assert len(french_typography_problems("Le retour : G ; pourquoi ? Ainsi !")) == 4
    assert french_typography_problems("le retour: G") == ["colon glued to 'r:'"]
    # code and math are not prose
    assert french_typography_problems("`a : b` and $x : y$ and\n```\nc ; d\n```\n") == []


def test_one_word_for_the_forward_pass(capsys: pytest.CaptureFixture[str]) -> None:
    """The notebooks and `drlab linreg --help` say "propagation avant", never "passe avant"."""
    for path in ALL_NOTEBOOKS:
        text = "\n".join(cell.source for cell in read(path).cells)
        assert "passe avant" not in text, name_of(path)
        if path.name.startswith(("01_", "02_", "03_")):
            assert "propagation avant" in text, name_of(path)

    from drlab.cli import main

    with pytest.raises(SystemExit):
        main(["linreg", "--help"])
    help_text = capsys.readouterr().out
    assert "propagation avant" in help_text and "passe avant" not in help_text


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
@pytest.mark.parametrize("path", [p for p in ALL_NOTEBOOKS if not p.name.startswith("03_tp1")], ids=name_of)
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    nb = execute(path)
    errors = [
        o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"
    ]
    assert errors == []


@pytest.mark.slow
@pytest.mark.parametrize("lang", EDITIONS)
def test_tp1_solution_passes_the_checker(lang: str, capsys: pytest.CaptureFixture[str]) -> None:
    from drlab.cli import main

    code = main(["check", "tp1", str(SOLUTIONS[lang] / SOLUTION), "--budget", "tiny", "--timeout", "600"])
    out = capsys.readouterr().out
    assert code == 0, out
    # the checker answers in the notebook's language
    verdict = {
        "en": "score: 14/14 — all checks pass",
        "fr": "score\u00a0: 14/14 — toutes les vérifications passent",
    }
    assert verdict[lang] in out


@pytest.mark.slow
@pytest.mark.parametrize("lang", EDITIONS)
def test_tp1_exercise_runs_until_its_first_todo(lang: str) -> None:
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as failure:
        execute(EDITIONS[lang] / EXERCISE)
    assert failure.value.ename == "NotImplementedError"
    assert "TODO 1" in failure.value.evalue
    nb = read(EDITIONS[lang] / EXERCISE)
    (todo_index,) = [
        i for i, c in enumerate(nb.cells) if "todo" in c.metadata.get("tags", []) and "class Net" in c.source
    ]
    # the cell that failed is the first one to build a Net, just after TODO 1: everything above ran
    assert "Net()" in nb.cells[todo_index + 1].source
    assert "Net()" in str(failure.value)


@pytest.mark.parametrize("lang", EDITIONS)
def test_exercise_and_solution_differ_only_in_their_todo_cells(lang: str) -> None:
    exercise, solution = read(EDITIONS[lang] / EXERCISE), read(SOLUTIONS[lang] / SOLUTION)
    assert len(exercise.cells) == len(solution.cells)
    todos = []
    for mine, theirs in zip(exercise.cells, solution.cells, strict=True):
        tags, solution_tags = mine.metadata.get("tags", []), theirs.metadata.get("tags", [])
        if "todo" in tags:
            todos.append(int(re.search(r"TODO (\d)", mine.source).group(1)))
            assert solution_tags == ["solution"] and mine.cell_type == theirs.cell_type == "code"
            assert "raise NotImplementedError" in mine.source
            assert "TODO" not in theirs.source and "NotImplementedError" not in theirs.source
        elif "title" in tags:
            assert solution_tags == ["title"]
        else:
            assert (mine.cell_type, mine.source) == (theirs.cell_type, theirs.source)
    # the model, one epoch, the evaluation, the loss function, the plots: numbered in the order they come
    assert todos == [1, 2, 3, 4, 5]
