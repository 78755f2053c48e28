"""Every file and folder that docs/architecture.md names exists.

A backticked ``something.py`` or ``some/folder/`` is a path of the repository: the page
often names a module by its path inside its package (``images/queue_state.py``) or, in a
room's row, by its name alone (``decoding.py``), so a name counts as found when a file
or folder of the checkout ends with it. A module moved or renamed without the page
following fails here, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
SKIPPED = {".git", ".venv", "node_modules", "site", "var", "__pycache__"}
# A backticked word that looks like a path: letters, digits, _ . - and /, ending in .py
# or /; a command line, a dotted name or a URL (with spaces, colons, <>) is not one.
PATH = re.compile(r"`([A-Za-z0-9_./-]+(?:\.py|/))`")


def repository_paths() -> set[str]:
    """Every file and folder of the checkout, as paths from its root (folders end in /)."""
    paths: set[str] = set()
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for entry in folder.iterdir():
            if entry.name in SKIPPED:
                continue
            relative = entry.relative_to(ROOT).as_posix()
            if entry.is_dir():
                paths.add(relative + "/")
                stack.append(entry)
            else:
                paths.add(relative)
    return paths


def named_paths(text: str) -> set[str]:
    return {name for name in PATH.findall(text) if not name.startswith(("/", "http"))}


def found(name: str, paths: set[str]) -> bool:
    bare = name.removeprefix("./")
    return bare in paths or any(path.endswith("/" + bare) for path in paths)


def test_the_page_names_paths():
    """The check sees the page's paths (a pattern gone wrong would pass on nothing)."""
    names = named_paths(PAGE.read_text())
    assert {"labeler/images/queue_state.py", "labeler/imports/", "worker/ml/"} <= names


def test_every_path_the_architecture_page_names_exists():
    paths = repository_paths()
    missing = sorted(name for name in named_paths(PAGE.read_text()) if not found(name, paths))
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
