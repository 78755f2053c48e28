"""Every room says what it owns: a sub-package of a layer has an ``__init__`` docstring.

A package over about twenty modules is split into rooms (docs/architecture.md, "Rooms");
the sentence at the top of each room's ``__init__.py`` is what a reader sees first.
Django's own folders (``migrations/``, ``management/``) are not rooms.
"""

from __future__ import annotations

import ast
from pathlib import Path

LABELER = Path(__file__).resolve().parents[2] / "labeler"
NOT_ROOMS = {"migrations", "management", "commands", "__pycache__"}


def rooms() -> list[Path]:
    return sorted(
        init.parent
        for init in LABELER.glob("*/*/**/__init__.py")
        if not NOT_ROOMS & set(init.relative_to(LABELER).parts)
    )


def test_the_rooms_are_found():
    names = {room.relative_to(LABELER).as_posix() for room in rooms()}
    assert {"images/pixels", "images/stored", "imports/reading", "imports/applying"} <= names


def test_every_room_says_what_it_owns():
    silent = [
        room.relative_to(LABELER).as_posix()
        for room in rooms()
        if not ast.get_docstring(ast.parse((room / "__init__.py").read_text()))
    ]
    assert not silent, f"rooms without a docstring in their __init__.py: {silent}"
