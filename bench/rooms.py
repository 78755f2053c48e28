"""Python files and lines per package and per room, now and at an earlier commit.

Counts every ``.py`` file outside ``migrations/`` and its lines (as ``wc -l`` counts
them): each package of ``labeler/`` (its sub-packages included), the files at the root
of ``labeler/``, each room of ``labeler/images/`` and ``labeler/imports/`` (and the files
at their top), ``api/``, ``worker/`` (without ``worker/ml/``) and ``worker/ml/``. Then
the same for ``labeler/images`` and ``labeler/imports`` at ``--before`` (read from git,
so the working tree is never touched). No Django needed.

    python bench/rooms.py                  # now, and images/imports at f3485d0
    python bench/rooms.py --before HEAD~5
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WITH_ROOMS = ("labeler/images", "labeler/imports")
BEFORE = "f3485d0"


def _counted(path: str) -> bool:
    return path.endswith(".py") and "/migrations/" not in path


def tree_files() -> dict[str, int]:
    """Every counted file of the working tree (tracked or not ignored) and its lines."""
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    files = {}
    for name in names:
        if _counted(name) and (ROOT / name).is_file():
            files[name] = len((ROOT / name).read_bytes().splitlines())
    return files


def commit_files(commit: str, folders: Iterable[str]) -> dict[str, int]:
    """Every counted file under ``folders`` at ``commit`` and its lines, read from git."""
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", commit, *folders],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    files = {}
    for name in names:
        if _counted(name):
            blob = subprocess.run(
                ["git", "show", f"{commit}:{name}"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            files[name] = len(blob.splitlines())
    return files


def room_of(path: str) -> str:
    """The row a file is counted in."""
    parts = path.split("/")
    if parts[0] == "worker":
        return "worker/ml/" if parts[1] == "ml" else "worker/ (without ml/)"
    if parts[0] != "labeler":
        return parts[0] + "/"
    if len(parts) == 2:
        return "labeler/ (root files)"
    package = "/".join(parts[:2])
    if package in WITH_ROOMS:
        if len(parts) == 3:
            return package + "/ (top)"
        return "/".join(parts[:3]) + "/"
    return package + "/"


def table(
    files: dict[str, int], keep: tuple[str, ...] = ("labeler/", "api/", "worker/")
) -> list[tuple[str, int, int]]:
    """Rows (room, files, lines) sorted by path, with a total row per package with rooms."""
    rows: dict[str, list[int]] = {}
    for path, lines in files.items():
        if not path.startswith(keep):
            continue
        row = rows.setdefault(room_of(path), [0, 0])
        row[0] += 1
        row[1] += lines
        for package in WITH_ROOMS:
            if path.startswith(package + "/"):
                total = rows.setdefault(package + "/ (all)", [0, 0])
                total[0] += 1
                total[1] += lines
    return [(name, count, lines) for name, (count, lines) in sorted(rows.items())]


def printed(title: str, rows: list[tuple[str, int, int]]) -> None:
    print(f"\n{title}\n")
    print("| package or room | files | lines |")
    print("| --- | ---: | ---: |")
    for name, count, lines in rows:
        print(f"| `{name}` | {count} | {lines:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before", default=BEFORE, help="commit to compare images and imports with"
    )
    args = parser.parse_args()
    now = tree_files()
    printed("Now (working tree), Python files outside migrations:", table(now))
    print(f"\nlabeler/images and labeler/imports now and at {args.before}:")
    before = table(commit_files(args.before, WITH_ROOMS), keep=WITH_ROOMS)
    after = table(now, keep=WITH_ROOMS)
    print(
        f"\n| package or room | files now | lines now"
        f" | files at {args.before} | lines at {args.before} |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    old = {name: (count, lines) for name, count, lines in before}
    new = {name: (count, lines) for name, count, lines in after}
    for name in sorted(set(old) | set(new)):
        nc, nl = new.get(name, (0, 0))
        oc, ol = old.get(name, (0, 0))
        print(f"| `{name}` | {nc} | {nl:,} | {oc} | {ol:,} |")


if __name__ == "__main__":
    main()
