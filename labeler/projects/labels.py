"""Parsing and checking label definitions given as plain names or objects."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labeler.errors import ValidationFailed
from labeler.projects.hotkeys import HotkeyChooser, hotkey_prefix_clash, hotkey_valid
from labeler.words import counted

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
    "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
]  # fmt: skip
MAX_LABELS = 500
MAX_GROUP_LENGTH = 100
_COLOR = re.compile(r"^#[0-9a-f]{6}$")


@dataclass
class LabelSpec:
    """One label as requested: id is set when it refers to an existing label."""

    name: str
    color: str | None = None
    hotkey: str | None = None
    id: int | None = None
    group: str | None = None


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="labels")


# Characters that reorder the text shown around them (U+202A-U+202E, U+2066-U+2069): in
# a name they make it read as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control(ch: str) -> bool:
    """Whether a character is a control character: C0 (below U+0020), DEL or C1."""
    return unicodedata.category(ch) == "Cc"


def _visible(ch: str) -> bool:
    """Whether a character shows: not a space, a format character (zero-width) or a mark
    alone."""
    return unicodedata.category(ch)[0] not in "ZC" and unicodedata.category(ch) != "Mn"


def _parse_one(raw: Any, index: int) -> LabelSpec:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        raise _fail(f"Label {index + 1} must be a name or an object with a 'name'.")
    unknown = set(raw) - {"id", "name", "color", "colour", "hotkey", "group"}
    if unknown:
        raise _fail(f"Label {index + 1} has unknown fields: {', '.join(sorted(unknown))}.")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"Label {index + 1} needs a non-empty name.")
    name = name.strip()
    if len(name) > 100 or any(_control(ch) for ch in name):
        raise _fail(f"Label name {name[:40]!r} is too long or holds control characters.")
    if any(ch in _BIDI_CONTROLS for ch in name) or not any(_visible(ch) for ch in name):
        raise _fail(
            f"Label name {name[:40]!r} holds text direction controls or nothing visible: "
            "a label's name is what annotators read."
        )
    color = raw.get("color", raw.get("colour"))
    if color is not None:
        if not isinstance(color, str) or not _COLOR.match(color.strip().lower()):
            raise _fail(f"Label {name!r}: colour must look like '#1f77b4'.")
        color = color.strip().lower()
    hotkey = raw.get("hotkey")
    if hotkey is not None and hotkey != "":
        if not isinstance(hotkey, str) or not hotkey_valid(hotkey.strip().lower()):
            raise _fail(
                f"Label {name!r}: hotkey must be one letter or digit, or two of them "
                "(a chord, pressed one after the other)."
            )
        hotkey = hotkey.strip().lower()
    label_id = raw.get("id")
    if label_id is not None and (not isinstance(label_id, int) or isinstance(label_id, bool)):
        raise _fail(f"Label {name!r}: id must be an integer.")
    return LabelSpec(
        name=name, color=color, hotkey=hotkey, id=label_id, group=_parse_group(raw, name)
    )


def _parse_group(raw: dict[str, Any], name: str) -> str | None:
    """The heading a label sits under: None when not given, "" for none."""
    group = raw.get("group")
    if group is None:
        return None
    if not isinstance(group, str):
        raise _fail(f"Label {name!r}: group must be a text (the heading it sits under).")
    group = " ".join(group.split())
    if len(group) > MAX_GROUP_LENGTH or any(_control(ch) or ch in _BIDI_CONTROLS for ch in group):
        raise _fail(
            f"Label {name!r}: group {group[:40]!r} is longer than {MAX_GROUP_LENGTH} "
            "characters or holds control characters."
        )
    if group and not any(_visible(ch) for ch in group):
        raise _fail(
            f"Label {name!r}: group {group[:40]!r} holds nothing visible: a group is the "
            "heading annotators read (leave it empty for none)."
        )
    return group


def labels_parse(
    raw_labels: Any, *, multi_label: bool, current: Sequence[LabelSpec] = ()
) -> list[LabelSpec]:
    """Validate a list of label definitions and fill in default colours and hotkeys.

    ``current`` holds a project's stored labels (with ids) when it is updated: a label
    named like a stored one without an id means that label, and a stored label keeps
    its colour, hotkey and group unless new ones are given. Hotkeys are one key or a
    two-key chord and must be prefix-free (``labeler.projects.hotkeys``).
    """
    if not isinstance(raw_labels, Sequence) or isinstance(raw_labels, str | bytes):
        raise _fail("Labels must be a list of names or objects.")
    specs = [_parse_one(raw, i) for i, raw in enumerate(raw_labels)]
    minimum = 1 if multi_label else 2
    if len(specs) < minimum:
        kind = "A multi-label" if multi_label else "A single-label"
        raise _fail(f"{kind} project needs at least {counted(minimum, 'label')}.")
    if len(specs) > MAX_LABELS:
        raise _fail(f"A project can have at most {MAX_LABELS} labels.")
    _match_current(specs, current)
    _check_unique([s.name.casefold() for s in specs], "label name")
    _check_unique([s.hotkey for s in specs if s.hotkey], "hotkey")
    _check_prefix_free(specs)
    _check_unique([s.id for s in specs if s.id is not None], "label id")
    chooser = HotkeyChooser((s.hotkey or "" for s in specs), label_count=len(specs))
    for position, spec in enumerate(specs):
        if spec.color is None:
            spec.color = PALETTE[position % len(PALETTE)]
        if spec.hotkey is None:
            spec.hotkey = chooser.choose(spec.name)
        if spec.group is None:
            spec.group = ""
    return specs


def _check_prefix_free(specs: Sequence[LabelSpec]) -> None:
    clash = hotkey_prefix_clash(s.hotkey or "" for s in specs)
    if clash is None:
        return
    single, chord = clash
    owner = {s.hotkey: s.name for s in specs}
    raise _fail(
        f"Hotkey {single!r} of label {owner[single]!r} is the first key of the chord "
        f"{chord!r} of label {owner[chord]!r}: a single key cannot start a chord. "
        "Give one of them another key."
    )


def _match_current(specs: list[LabelSpec], current: Sequence[LabelSpec]) -> None:
    by_id = {label.id: label for label in current}
    by_name = {label.name.casefold(): label for label in current}
    given: set[int | None] = {spec.id for spec in specs if spec.id is not None}
    for spec in specs:
        named = by_name.get(spec.name.casefold())
        if spec.id is None and named is not None and named.id not in given:
            spec.id = named.id
            given.add(named.id)
        stored = by_id.get(spec.id)
        if stored is not None:
            spec.color = stored.color if spec.color is None else spec.color
            spec.hotkey = stored.hotkey if spec.hotkey is None else spec.hotkey
            spec.group = stored.group if spec.group is None else spec.group


def _check_unique(values: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise _fail(f"Duplicate {what}: {value!r}.")
        seen.add(value)
