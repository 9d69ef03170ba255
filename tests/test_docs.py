"""The documentation: one source for every figure, a README that is a door, a site that builds and renders.

- ``docs/benchmarks.md`` is exactly what ``benchmarks/render.py`` renders from ``benchmarks/results/``, and
  every results file records its date, commit (or the commit it was transcribed from), machine and command;
- a benchmark run with ``--save`` writes the very result it prints, and the page renders its figures;
- each figure the README or LISEZMOI quotes links to one measurement on that page, which holds that figure;
- every ``--help`` ends with pages that exist and that the site's navigation lists, under the title shown;
- the site builds with ``mkdocs build --strict``, and headless Chromium draws its home page and its
  benchmarks page (not blank).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from _browser import dom, screenshot
from _typography import french_typography_problems, prose
from drlab.cli import DOC_PAGES, build_parser, docs_epilog, subcommands

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BENCHMARKS = ROOT / "benchmarks"


@functools.cache
def load_script(name: str, folder: Path = BENCHMARKS) -> ModuleType:
    """A script of ``benchmarks/`` (or ``docs/``) as a module, its folder importable as when it runs."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"_docs_test_{name}", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- one source per figure
def test_the_benchmarks_page_is_what_the_results_render() -> None:
    render = load_script("render")
    assert render.render(render.load()) == (DOCS / "benchmarks.md").read_text(encoding="utf-8"), (
        "docs/benchmarks.md is stale: run python benchmarks/render.py"
    )


def test_every_results_file_says_when_where_and_how_it_was_measured() -> None:
    render = load_script("render")
    records = render.load()
    assert records, "benchmarks/results/ is empty"
    shallow = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
    ).stdout.strip()
    for stem, record in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d(T[\d:]+([+-]\d\d:\d\d|Z)?)?", record["date"]), stem
        assert record["command"].strip(), stem
        assert {"cores", "torch", "load_average"} <= set(record["machine"]), stem
        transcribed = record.get("transcribed")
        if transcribed is None:
            assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", record["commit"]), stem
            assert record["machine"]["cpu"], stem
        else:  # a figure copied from the README's history: the commit that recorded it must exist
            assert re.fullmatch(r"[0-9a-f]{40}", transcribed["commit"]), stem
            if shallow == "false":
                found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", transcribed["commit"]])
                assert found.returncode == 0, f"{stem}: commit {transcribed['commit']} not in the history"


def test_every_benchmark_prints_its_result_through_record_and_can_save_it() -> None:
    scripts = sorted(set(BENCHMARKS.glob("*.py")) - {BENCHMARKS / "record.py", BENCHMARKS / "render.py"})
    assert scripts
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert "record.add_save_option(parser)" in text, f"{script.name}: no --save"
        assert "record.emit(" in text, f"{script.name}: its RESULT does not go through record.emit"
        assert '"RESULT ' not in text, f"{script.name}: prints RESULT itself"


def test_save_writes_the_printed_result_with_its_conditions_and_the_page_shows_it(tmp_path: Path) -> None:
    record = load_script("record")
    render = load_script("render")
    result = {"benchmark": "linreg", "max_ratio": 1.043, "max_ratio_method": "optim", "methods": {}}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        path = record.emit("linreg", result, str(tmp_path))
    printed = json.loads(out.getvalue().splitlines()[0].removeprefix("RESULT "))
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert printed == saved["result"] == result
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert saved["commit"].removesuffix("+dirty") == head.stdout.strip()
    assert saved["machine"]["cores"] == os.cpu_count()
    assert saved["machine"]["load_average"] == pytest.approx(list(os.getloadavg()), abs=2.0)
    assert saved["command"].startswith("python ")
    assert "transcribed" not in saved
    page = render.render(render.load(tmp_path))
    assert f'<a id="{path.stem}"></a>' in page
    assert "| worst drlab method ÷ the lecture's snippet (target ≤ 1.1×) | 1.043× |" in page
    assert "| worst method | optim |" in page


def headline_links(text: str) -> Iterator[tuple[str, str]]:
    """(link text, anchor) of every link to the benchmarks page."""
    yield from re.findall(r"\[([^\]]+)\]\(docs/benchmarks\.md#([\w-]+)\)", text)


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", text))  # 1,429 and 0.9358


@pytest.mark.parametrize("door", ["README.md", "LISEZMOI.md"])
def test_each_figure_the_door_quotes_is_the_one_its_link_points_to(door: str) -> None:
    text = (ROOT / door).read_text(encoding="utf-8")
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r'<a id="([\w-]+)"></a>\n(.*?)(?=<a id=|\Z)', page, flags=re.S))
    links = list(headline_links(text))
    assert links or door == "LISEZMOI.md"
    for label, anchor in links:
        assert anchor in blocks, f"{door}: no measurement #{anchor} on the benchmarks page"
        missing = numbers(label) - numbers(blocks[anchor])
        assert not missing, f"{door}: {label!r} quotes {missing}, not recorded in #{anchor}"
    # no other figure from the benchmarks page: every decimal the door prints is linked to its source
    unlinked = re.sub(r"\[[^\]]+\]\(docs/benchmarks\.md#[\w-]+\)", "", text)
    unlinked = re.sub(r"```.*?```", "", unlinked, flags=re.S)
    stray = {n for n in re.findall(r"\b\d+\.\d{2,}\b", unlinked)} & numbers(page)
    assert not stray, f"{door}: figures {stray} quoted without a link to their measurement"


def test_the_doors_are_short_and_lead_to_tp1_and_grading_at_once() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    lisezmoi = (ROOT / "LISEZMOI.md").read_text(encoding="utf-8").splitlines()
    assert len(readme) <= 150 and len(lisezmoi) <= 120
    for lines in (readme, lisezmoi):
        top = "\n".join(lines[:30])
        assert "bash setup.sh && .venv/bin/drlab train --offline" in top
        assert "bash setup.sh --dev && .venv/bin/python -m pytest" in top
        assert "(docs/grading.md)" in "\n".join(lines[:15])
    for path in re.findall(r"\]\(((?:docs/)?[\w/.-]+\.md)(?:#[\w-]+)?\)", "\n".join(readme + lisezmoi)):
        assert (ROOT / path).is_file(), f"a link to {path}, which does not exist"


@pytest.mark.parametrize("page", ["LISEZMOI.md", "docs/fr/demarrage.md"])
def test_french_pages_follow_french_typography(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    # a space before : ; ? ! is a no-break one (U+00A0 before the colon, the narrow U+202F before the rest)
    assert french_typography_problems(text) == [], page
    assert re.search(r"\w\u00a0:", prose(text)), f"{page}: no colon at all, is this French?"


# ------------------------------------------------------------------------------- --help → its page
def nav_pages() -> dict[str, str]:
    """Each page of the site's navigation (after docs/_hooks.py) and the title the site shows for it."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    hooks = load_script("_hooks", DOCS)
    nav = hooks.with_algorithm_pages(config["nav"], DOCS)
    pages: dict[str, str] = {}

    def walk(entries: list[Any]) -> None:
        for entry in entries:
            if isinstance(entry, str):
                pages[entry] = page_title(entry)
            else:
                for title, value in entry.items():
                    if isinstance(value, str):
                        pages[value] = title
                    else:
                        walk(value)

    walk(nav)
    return pages


def page_title(page: str) -> str:
    first = (DOCS / page).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# "), f"docs/{page} does not start with its title"
    return first[2:].strip()


def every_command() -> Iterator[tuple[str, Any]]:
    def walk(parser: Any, command: str) -> Iterator[tuple[str, Any]]:
        yield command, parser
        for name, sub in subcommands(parser).items():
            yield from walk(sub, f"{command} {name}".strip())

    yield from walk(build_parser(), "")


def test_every_help_ends_with_pages_the_site_shows_under_that_title() -> None:
    nav = nav_pages()
    commands = dict(every_command())
    assert {"", "train", "check tp1", "rl dqn", "data verify"} <= set(commands)
    assert set(DOC_PAGES) <= set(commands), (
        f"pages for commands that do not exist: {set(DOC_PAGES) - set(commands)}"
    )
    for command, parser in commands.items():
        assert parser.format_help().endswith(docs_epilog(command)), f"drlab {command} --help"
    for command, pages in DOC_PAGES.items():
        for path, title in pages:
            assert (DOCS / path).is_file(), f"drlab {command}: docs/{path} does not exist"
            assert path in nav, f"drlab {command}: docs/{path} is not in the site's navigation"
            assert nav[path] == title, (
                f"drlab {command}: docs/{path} is {nav[path]!r} in the site, not {title!r}"
            )


def test_the_rl_section_lists_every_algorithm_page_in_the_course_order(tmp_path: Path) -> None:
    hooks = load_script("_hooks", DOCS)
    (tmp_path / "rl").mkdir()
    for name in ("index", "ppo", "dqn", "zeta", "reinforce", "qlearning", "a2c"):
        (tmp_path / "rl" / f"{name}.md").write_text(f"# {name}\n", encoding="utf-8")
    nav = hooks.with_algorithm_pages(
        [{"Home": "index.md"}, {"Deep RL": ["rl/index.md", "rl/dqn.md"]}], tmp_path
    )
    assert nav[1]["Deep RL"] == [
        "rl/index.md", "rl/dqn.md", "rl/qlearning.md", "rl/reinforce.md", "rl/a2c.md", "rl/ppo.md", "rl/zeta.md",
    ]  # fmt: skip


def test_the_api_reference_documents_what_the_notebooks_import() -> None:
    documented = {
        target
        for page in (DOCS / "reference").glob("*.md")
        for target in re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M)
    }
    imported: set[tuple[str, str]] = set()
    for notebook in (ROOT / "notebooks").rglob("*.ipynb"):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                for module, names in re.findall(
                    r"^from (drlab[\w.]*) import ([\w, ]+)", "".join(cell["source"]), re.M
                ):
                    imported |= {(module, name.split(" as ")[0].strip()) for name in names.split(",")}
    assert len(imported) > 20
    missing = sorted(
        f"{module}.{name}"
        for module, name in imported
        if not name.isupper()  # constants (HELD_OUT_SEED) have no docstring
        and module not in documented
        and not any(target.endswith(f".{name}") for target in documented)
    )
    assert not missing, f"imported by the notebooks, missing from docs/reference/: {missing}"


# ------------------------------------------------------------------------------ the site, in a browser
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is not installed: bash setup.sh --dev installs it")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    return out


def test_the_site_builds_strictly_and_reads_offline(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="getting-started.html"' in home  # pages linked as files: the folder reads from the disk
    assert 'href="rl/dqn.html"' in home and 'href="benchmarks.html"' in home
    assert "fonts.googleapis.com" not in home
    reference = (site / "reference" / "train.html").read_text(encoding="utf-8")
    assert "train_one_epoch" in reference and "evaluate" in reference  # generated from the docstrings


@pytest.mark.parametrize(("page", "title"), [("index.html", "drlab"), ("benchmarks.html", "Benchmarks")])
def test_headless_chromium_draws_the_page(site: Path, page: str, title: str, tmp_path: Path) -> None:
    from PIL import Image

    url = (site / page).as_uri()
    with Image.open(screenshot(url, tmp_path / f"{page}.png")) as image:
        pixels = image.convert("RGB")
        assert pixels.size == (1280, 900)
        colours = pixels.getcolors(maxcolors=1 << 20) or []
    background = max(colours)[0]
    inked = sum(count for count, _ in colours) - background
    # a page of text, a header bar and a navigation: many colours (anti-aliased glyphs), much ink
    assert len(colours) > 100, f"{page}: {len(colours)} colours, a blank page?"
    assert inked > 0.03 * 1280 * 900, f"{page}: only {inked} pixels differ from the background"
    assert f">{title}<" in dom(url).replace("\n", "")
