"""`drlab linreg`: the table, the JSON object, the plots, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drlab.cli import main
from drlab.linreg.data import least_squares, make_data


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors and --help exit
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["linreg", "--method", "numpy-batch", "--epochs", "1000"], capsys)
    assert code == 0, err
    assert "least squares" in out
    header = next(line for line in out.splitlines() if line.startswith("method"))
    for column in ("a", "b", "train MSE", "val MSE", "dist to OLS", "time (s)"):
        assert column in header
    row = next(line for line in out.splitlines() if line.startswith("numpy-batch"))
    a, b = (float(v) for v in row.split()[1:3])
    a_ols, b_ols = least_squares(make_data().x_train, make_data().y_train)
    assert abs(a - a_ols) < 1e-3 and abs(b - b_ols) < 1e-3


def test_table_reports_the_layers_state_dict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["linreg", "--method", "layer", "--epochs", "5"], capsys)
    assert code == 0
    assert "layer: model.state_dict() = {'linear.weight'" in out


def test_json_is_one_object_as_the_issue_specifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["linreg", "--method", "all", "--epochs", "30", "--json", "--plot", str(tmp_path)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    payload = json.loads(out)  # stdout holds the object and nothing else
    assert set(payload) == {"ols", "methods"} and set(payload["ols"]) == {"a", "b"}
    assert [row["method"] for row in payload["methods"]] == [
        "numpy-batch", "numpy-sgd", "numpy-minibatch", "autograd", "optim", "loss", "module", "layer",
    ]  # fmt: skip
    for row in payload["methods"]:
        assert set(row) == {"method", "a", "b", "train_mse", "val_mse", "dist_to_ols", "seconds"}
        distance = ((row["a"] - payload["ols"]["a"]) ** 2 + (row["b"] - payload["ols"]["b"]) ** 2) ** 0.5
        assert row["dist_to_ols"] == pytest.approx(distance)
    assert (tmp_path / "linreg_fits.png").is_file() and (tmp_path / "linreg_losses.png").is_file()
    assert "wrote" in err


def test_same_seed_same_json(capsys: pytest.CaptureFixture[str]) -> None:
    def numbers(seed: str) -> list[tuple[float, float, float]]:
        argv = ["linreg", "--method", "numpy-sgd", "--epochs", "10", "--seed", seed, "--json"]
        code, out, _ = run(argv, capsys)
        assert code == 0
        return [(r["a"], r["b"], r["val_mse"]) for r in json.loads(out)["methods"]]

    assert numbers("5") == numbers("5")
    assert numbers("5") != numbers("6")


@pytest.mark.parametrize(
    "options",
    [
        ["--lr", "0"],
        ["--lr", "-0.5"],
        ["--batch-size", "0"],
        ["--batch-size", "81"],
        ["--epochs", "0"],
        ["--epochs", "-3"],
        ["--method", "adam"],
        ["--epochs", "ten"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["linreg", *options], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in err


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["linreg", "--help"], capsys)
    assert code == 0
    for words in ("examples:", "descente de gradient", "époque", "pas d'apprentissage", "--batch-size"):
        assert words in out


def test_plot_into_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    code, _, err = run(["linreg", "--method", "numpy-batch", "--plot", str(not_a_folder)], capsys)
    assert code == 2 and err.startswith("error: --plot")


def test_plot_never_overwrites_a_picture_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = tmp_path / "plots"
    plots.mkdir()
    figure = plots / "linreg_fits.png"
    figure.write_bytes(b"a figure of my thesis")
    code, out, err = run(["linreg", "--method", "numpy-batch", "--plot", str(plots)], capsys)
    assert code == 2 and out == ""  # refused before the table: nothing ran
    assert err.count("\n") == 1 and err.startswith("error:") and "linreg_fits.png" in err
    assert figure.read_bytes() == b"a figure of my thesis"
    assert sorted(p.name for p in plots.iterdir()) == ["linreg_fits.png"]
    # drlab's own pictures are replaced by the next run
    mine = tmp_path / "mine"
    for _ in range(2):
        code, _, err = run(["linreg", "--method", "numpy-batch", "--plot", str(mine)], capsys)
        assert code == 0, err
    assert (mine / "linreg_fits.png").read_bytes().startswith(b"\x89PNG")
