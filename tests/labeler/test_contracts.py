"""Every package and module of ``labeler`` is inside the import contracts.

``lint-imports`` checks only what its contracts name: a package they leave out may import
anything. The composition root (settings, URLs, the WSGI entry) is the one exception: it
wires every layer together by design.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION_ROOT = {"__init__", "settings", "urls", "wsgi"}


def _named_in_contracts() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    named: set[str] = set()
    for contract in config["contracts"]:
        containers = contract.get("containers", [""])
        for layer in contract.get("layers", []):
            for part in layer.split("|"):
                named.update(f"{c}.{part.strip()}".strip(".") for c in containers)
        named.update(contract.get("source_modules", []))
        named.update(contract.get("forbidden_modules", []))
    return named


def _top_level() -> list[str]:
    found = []
    for path in sorted((ROOT / "labeler").iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            found.append(path.name)
        elif path.suffix == ".py" and path.stem not in COMPOSITION_ROOT:
            found.append(path.stem)
    return found


@pytest.mark.parametrize("name", _top_level())
def test_each_package_is_named_by_a_contract(name: str) -> None:
    assert f"labeler.{name}" in _named_in_contracts(), (
        f"labeler.{name} is in no import-linter contract (pyproject.toml): give it its "
        "place among the layers or the plumbing"
    )
