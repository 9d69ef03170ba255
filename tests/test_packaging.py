"""What pip and conda install: environment.yml asks pyproject.toml for drlab and an extra that exists, the
``dev`` extra names the other extras instead of repeating them, and the data files drlab reads ship in it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_installs_drlab_with_an_extra_pyproject_defines() -> None:
    yaml = pytest.importorskip("yaml")
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    (pip,) = [item["pip"] for item in environment["dependencies"] if isinstance(item, dict)]
    requirements = [line for line in pip if not line.startswith("--")]  # pip's options: the CPU index
    assert len(requirements) == 1, "environment.yml lists drlab alone: pyproject.toml says what it needs"
    match = re.fullmatch(r"-e \.\[([a-z,]+)\]", requirements[0])
    assert match is not None, requirements[0]
    assert set(match.group(1).split(",")) <= set(PROJECT["project"]["optional-dependencies"])
    assert (
        "python>=" + PROJECT["project"]["requires-python"].removeprefix(">=") in environment["dependencies"]
    )


def test_the_dev_extra_names_the_other_extras_instead_of_repeating_them() -> None:
    extras: dict[str, list[str]] = PROJECT["project"]["optional-dependencies"]
    named = [spec for spec in extras["dev"] if requirement_name(spec) == "drlab"]
    assert len(named) == 1
    included = set(re.search(r"\[(.*)\]", named[0]).group(1).split(","))  # type: ignore[union-attr]
    assert included <= set(extras) - {"dev"}
    elsewhere = {requirement_name(s) for s in PROJECT["project"]["dependencies"]}
    elsewhere |= {requirement_name(s) for name in included for s in extras[name]}
    repeated = [spec for spec in extras["dev"] if requirement_name(spec) in elsewhere]
    assert repeated == []


def test_the_data_files_drlab_reads_are_package_data() -> None:
    listed = PROJECT["tool"]["setuptools"]["package-data"]["drlab"]
    assert "data/digits.csv.gz" in listed and "data/digits-NOTICE.txt" in listed
    for name in listed:
        assert (ROOT / "src" / "drlab" / name).is_file(), name
