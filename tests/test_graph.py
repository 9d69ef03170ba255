"""`drlab graph`: the lecture's computation graphs, with and without Graphviz's `dot`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drlab.cli import main
from drlab.linreg.graph import GRAPH_NAMES, lecture_graphs, render_graphs

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` is not installed")


def test_graph_sources_hold_the_lectures_operations() -> None:
    graphs = {name: graph.source for name, graph in lecture_graphs().items()}
    assert tuple(graphs) == GRAPH_NAMES
    assert "AddBackward0" in graphs["yhat"] and "MulBackward0" in graphs["yhat"]
    assert "SubBackward0" in graphs["error"]
    for op in ("AddBackward0", "SubBackward0", "PowBackward0", "MeanBackward0"):
        assert op in graphs["loss"]
    # the `if` branch added a second error and its mean, summed into the loss
    assert graphs["dynamic"].count("MeanBackward0") == 2 and graphs["dynamic"].count("SubBackward0") == 2
    # one AccumulateGrad per tensor that gets a gradient: a and b, then b alone once a stops asking
    assert graphs["yhat"].count("AccumulateGrad") == 2
    assert graphs["a_no_grad"].count("AccumulateGrad") == 1


@needs_dot
def test_svg_files_exist_and_name_the_operations(tmp_path: Path) -> None:
    files = render_graphs(tmp_path, "svg")
    assert not files.dot_missing
    assert sorted(p.name for p in files.pictures) == sorted(f"{name}.svg" for name in GRAPH_NAMES)
    loss_svg = (tmp_path / "loss.svg").read_text()
    for op in ("AddBackward0", "SubBackward0", "PowBackward0", "MeanBackward0"):
        assert op in loss_svg
    assert "<svg" in (tmp_path / "dynamic.svg").read_text()


@needs_dot
def test_cli_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--out", str(tmp_path), "--format", "png"]) == 0
    for name in GRAPH_NAMES:
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{name}.dot").is_file()
    assert capsys.readouterr().out.count("wrote") == len(GRAPH_NAMES)


def test_without_dot_the_sources_are_written_and_one_line_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # graphviz looks `dot` up on PATH
    out = tmp_path / "graphs"
    assert main(["graph", "--out", str(out)]) == 0
    shown = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert shown == sorted(f"{name}.dot" for name in GRAPH_NAMES)
    assert "MeanBackward0" in (out / "loss.dot").read_text()
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "install Graphviz" in err_lines[0]


@pytest.mark.parametrize("options", [["--seed", "-1"], ["--format", "pdf"], ["--out", "FILE"]])
def test_bad_graph_arguments_are_one_line(
    options: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "FILE").write_text("not a folder")
    options = [str(tmp_path / "FILE") if o == "FILE" else o for o in options]
    try:
        code = main(["graph", "--out", str(tmp_path / "g"), *options])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_graph_never_overwrites_a_file_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    mine = out / "loss.dot"
    mine.write_text("my own graph")
    assert main(["graph", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "loss.dot" in err[0]
    assert mine.read_text() == "my own graph"
    assert sorted(p.name for p in out.iterdir()) == ["loss.dot"]  # nothing written beside it
    # in a folder of drlab's own pictures, a second run replaces them, unless one was edited since
    fresh = tmp_path / "graphs"
    assert main(["graph", "--out", str(fresh)]) == 0
    first = (fresh / "loss.dot").read_text()
    assert main(["graph", "--out", str(fresh)]) == 0
    assert "MeanBackward0" in (fresh / "loss.dot").read_text()  # node ids are addresses: compare content
    capsys.readouterr()
    (fresh / "loss.dot").write_text(first + "// my annotation\n")
    assert main(["graph", "--out", str(fresh)]) == 2
    assert "loss.dot changed since drlab wrote it" in capsys.readouterr().err
    assert (fresh / "loss.dot").read_text().endswith("// my annotation\n")
