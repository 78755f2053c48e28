"""Counts read right: "1 image", "3 images", never "1 image(s)" or "1 images".

Walks what people read, the messages in ``labeler/``, ``api/`` and ``worker/`` (string
literals, docstrings and comments apart), the templates and the scripts (comments
apart), for a noun followed by "(s)": a count goes through ``labeler.words.counted`` (or
``noun``) in Python and ``plural`` (static/js/lib/format.js) in scripts.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from labeler.words import counted, noun

ROOT = Path(__file__).resolve().parents[1]
NOUN_OR_NOUNS = re.compile(r"[A-Za-z]\(s\)")
NOT_A_COUNT = ("http(s)",)  # "an http(s) origin": a scheme, not a count


def _hand_plural(text: str) -> bool:
    for allowed in NOT_A_COUNT:
        text = text.replace(allowed, "")
    return bool(NOUN_OR_NOUNS.search(text))


def _python_strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that are not docstrings, with their lines."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """A script's or template's lines, comments apart."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("//", "*", "/*", "{#")):
            continue
        found.append((number, line))
    return found


# An "s" added by hand in an f-string: f"{n} image{'s' if n != 1 else ''}".
HAND_S = re.compile(r"""\{\s*['"]s['"]\s+if\b|\belse\s+['"]s['"]\s*\}""")


def _places() -> list[str]:
    found = []
    for folder in ("labeler", "api", "worker", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for line, text in _python_strings(path):
                if _hand_plural(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}")
            for line, text in enumerate(path.read_text().splitlines(), start=1):
                if HAND_S.search(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}")
    scripts = sorted((ROOT / "static" / "js").rglob("*.js"))
    for path in [*sorted((ROOT / "templates").rglob("*.html")), *scripts]:
        for line, text in _code_lines(path):
            if _hand_plural(text):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}")
    return found


def test_no_message_writes_a_count_with_noun_s() -> None:
    assert _places() == []


@pytest.mark.parametrize(
    ("number", "said"),
    [(0, "0 images"), (1, "1 image"), (2, "2 images"), (-1, "-1 images")],
)
def test_counted_agrees_with_its_noun(number: int, said: str) -> None:
    assert counted(number, "image") == said


def test_irregular_nouns_and_verbs_take_their_plural() -> None:
    assert counted(2, "match", "matches") == "2 matches"
    assert noun(1, "is", "are") == "is" and noun(3, "is", "are") == "are"


def test_the_walk_finds_a_hand_plural() -> None:
    assert HAND_S.search("f\"{n} image{'s' if n != 1 else ''}\"")
    assert HAND_S.search("f\"{n} image{'' if n == 1 else 's'}\"")
    assert _hand_plural("f'{n} image(s) changed'")
    assert not _hand_plural("an http(s) origin") and not _hand_plural("map((s) => s)")
