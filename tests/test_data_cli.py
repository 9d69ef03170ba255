"""``drlab data download|verify|info``, in-process: output, one-line errors, exit codes (2 bad input, 1 failure)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _data_server import NAMES, MirrorState, TinyDataset, cache_listing, make_tiny_dataset, serve
from drlab.cli import main
from drlab.data import fashion_mnist


@pytest.fixture
def tiny(tmp_path: Path) -> TinyDataset:
    return make_tiny_dataset(tmp_path / "generated")


@pytest.fixture
def server(tiny: TinyDataset, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MirrorState, str]]:
    """A local mirror; the CLI's Fashion-MNIST manifest is swapped for the tiny one, whose official mirror is ours."""
    state = MirrorState(files=tiny.files, other_files=tiny.other_files, delay=1.0)
    with serve(state) as base:
        manifest = dataclasses.replace(tiny.manifest, mirrors=(base + "official/",))
        monkeypatch.setattr(fashion_mnist, "FASHION_MNIST", manifest)
        monkeypatch.setenv("DRLAB_OFFLINE", "0")
        yield state, base


def test_download_then_verify_then_info(
    tiny: TinyDataset, server: tuple[MirrorState, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, base = server
    state.modes = {"lab": "404"}
    argv = ["data", "download", "fashion-mnist", "--data-dir", str(tmp_path), "--quiet", "--seed", "3"]
    assert main([*argv, "--mirror", base + "lab/"]) == 0
    assert [r.split("/")[1] for r in state.requests[:2]] == ["lab", "official"]  # --mirror first
    out = capsys.readouterr().out
    assert "all 4 files verified" in out and str(tmp_path / "tiny-fashion") in out
    assert cache_listing(tmp_path / "tiny-fashion") == sorted(NAMES.values())

    assert main(["data", "verify", "fashion-mnist", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("verified") == 4

    assert main(["data", "info", "fashion-mnist", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "status: verified" in out and "class 9" in out and "cached in:" in out


def test_download_failure_exits_1_with_one_line(
    server: tuple[MirrorState, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, _base = server
    state.modes = {"official": "500"}
    assert main(["data", "download", "fashion-mnist", "--data-dir", str(tmp_path), "--timeout", "0.3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not download") and "HTTP 500" in err and err.count("\n") == 1
    assert cache_listing(tmp_path / "tiny-fashion") == []


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "download", "mnist"],
        ["data", "download", "fashion-mnist", "--mirror", "ftp://example.org/"],
        ["data", "download", "fashion-mnist", "--timeout", "0"],
        ["data", "info", "fashion-mnist", "--seed", "x"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], server: tuple[MirrorState, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        code = main(argv)
        raise SystemExit(code)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert server[0].requests == []


def test_verify_a_wrong_file_exits_2_and_a_missing_one_exits_1(
    tiny: TinyDataset, server: tuple[MirrorState, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "tiny-fashion"
    directory.mkdir()
    assert main(["data", "verify", "fashion-mnist", "--data-dir", str(tmp_path)]) == 1
    assert "4 file(s) missing" in capsys.readouterr().err
    for name, data in tiny.other_files.items():
        (directory / name).write_bytes(data)
    assert main(["data", "verify", "fashion-mnist", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "this is Tiny-MNIST, not Tiny-Fashion" in captured.err and "wrong" in captured.out
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(tmp_path)]) == 0
    assert "WRONG FILES" in capsys.readouterr().out
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(tmp_path), "--no-verify"]) == 0
    assert "unchecked" in capsys.readouterr().out


def test_offline_download_lists_what_is_missing(
    server: tuple[MirrorState, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "download", "fashion-mnist", "--data-dir", str(tmp_path), "--offline"]) == 1
    err = capsys.readouterr().err
    assert "offline mode" in err and "train-images-idx3-ubyte.gz" in err and str(tmp_path) in err
    assert server[0].requests == []


def test_data_dir_from_the_environment(
    server: tuple[MirrorState, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DRLAB_DATA", str(tmp_path / "env"))
    assert main(["data", "download", "fashion-mnist", "--quiet"]) == 0
    assert cache_listing(tmp_path / "env" / "tiny-fashion") == sorted(NAMES.values())


def test_digits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "download", "digits"]) == 0
    assert main(["data", "verify", "digits"]) == 0
    assert main(["data", "info", "digits", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "1,797 images" in out and "train 1,438 / test 359" in out and "--seed 2" in out


def test_real_fashion_mnist_info_offline_without_any_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "share"))  # no system copy either
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "train 60,000 / test 10,000" in out and "Ankle boot" in out and "25.2 MiB" in out
    assert (
        f"looks in: {tmp_path / 'fashion-mnist'}, then the system's copy ({tmp_path / 'share/datasets/fashion-mnist'})"
        in out
    )
    assert "missing" in out and "sudo apt install dataset-fashion-mnist" in out
    assert "drlab data download fashion-mnist" in out
    assert main(["data", "verify", "fashion-mnist", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4 file(s) missing (not found)" in err and "--dataset digits" in err


def test_verify_and_info_say_where_each_file_came_from(
    tiny: TinyDataset,
    server: tuple[MirrorState, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two files in the cache, two in the system's copy: each is named with its source; nothing is fetched."""
    system = tmp_path / "share" / "datasets" / "tiny-fashion"
    system.mkdir(parents=True)
    cache = tmp_path / "cache" / "tiny-fashion"
    cache.mkdir(parents=True)
    for index, (name, data) in enumerate(tiny.files.items()):
        ((cache if index < 2 else system) / name).write_bytes(data)
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "share"))
    argv = ["--data-dir", str(tmp_path / "cache")]
    assert main(["data", "verify", "fashion-mnist", *argv]) == 0
    out = capsys.readouterr().out
    assert out.count(f"verified {cache}/") == 2 and out.count(f"verified {system}/") == 2
    assert main(["data", "info", "fashion-mnist", *argv]) == 0
    out = capsys.readouterr().out
    assert out.count("(cache)") == 2 and out.count("(the system's copy, read in place)") == 2
    assert main(["data", "download", "fashion-mnist", "--quiet", *argv]) == 0
    assert "all 4 files verified" in capsys.readouterr().out and server[0].requests == []
    assert cache_listing(cache) == sorted(list(NAMES.values())[:2])


def test_the_data_cli_does_not_import_numpy_or_torch() -> None:
    code = "import sys, drlab.data.cli, drlab.cli; print('numpy' in sys.modules or 'torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
