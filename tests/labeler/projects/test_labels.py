"""labels_parse: label definitions from names or objects, checked, with defaults filled in."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.errors import ValidationFailed
from labeler.projects.labels import (
    DEFAULT_HOTKEYS,
    MAX_LABELS,
    PALETTE,
    LabelSpec,
    labels_parse,
)


def parsed(raw: Any, *, multi_label: bool = False, **kwargs: Any) -> list[tuple]:
    specs = labels_parse(raw, multi_label=multi_label, **kwargs)
    return [(s.name, s.color, s.hotkey, s.id) for s in specs]


def test_plain_names_get_palette_colours_and_hotkeys_in_order():
    """Names alone become labels coloured from the palette, with hotkeys 1, 2, 3..."""
    assert parsed(["cat", "dog", "bird"]) == [
        ("cat", PALETTE[0], "1", None),
        ("dog", PALETTE[1], "2", None),
        ("bird", PALETTE[2], "3", None),
    ]


def test_objects_keep_what_they_give_and_get_defaults_for_the_rest():
    """Given colours and hotkeys are normalised to lower case; missing ones are filled in."""
    raw = [
        {"name": "  cat ", "color": "#ABCDEF", "hotkey": "C"},
        {"name": "dog", "colour": "#00ff00"},
        "bird",
    ]
    assert parsed(raw) == [
        ("cat", "#abcdef", "c", None),
        ("dog", "#00ff00", "1", None),
        ("bird", PALETTE[2], "2", None),
    ]


def test_default_hotkeys_skip_the_ones_given():
    """A hotkey chosen by one label is never handed to another by default."""
    assert [spec[2] for spec in parsed(["a", {"name": "b", "hotkey": "1"}, "c"])] == ["2", "1", "3"]


def test_an_empty_hotkey_means_none():
    """`hotkey: ""` asks for no shortcut, and keeps the default keys for the others."""
    assert [spec[2] for spec in parsed([{"name": "a", "hotkey": ""}, "b"])] == ["", "1"]


def test_defaults_run_out_gracefully():
    """Past the 35 default keys labels get no hotkey; colours wrap around the palette."""
    specs = labels_parse([f"l{i}" for i in range(40)], multi_label=True)
    assert [s.hotkey for s in specs[:35]] == list(DEFAULT_HOTKEYS)
    assert {s.hotkey for s in specs[35:]} == {""}
    assert specs[len(PALETTE)].color == PALETTE[0]


def test_a_multi_label_project_may_have_one_label():
    """Multi-label projects need one label; single-label ones need two."""
    assert parsed(["only"], multi_label=True) == [("only", PALETTE[0], "1", None)]
    with pytest.raises(ValidationFailed, match="single-label project needs at least 2"):
        labels_parse(["only"], multi_label=False)


def test_ids_are_kept():
    """An object's id says which stored label it updates."""
    assert parsed([{"id": 7, "name": "cat"}, "dog"])[0][3] == 7


@pytest.mark.parametrize(
    "raw, message",
    [
        ("cat", "must be a list"),
        (b"cat", "must be a list"),
        ({"name": "cat"}, "must be a list"),
        (None, "must be a list"),
        (7, "must be a list"),
        ([], "needs at least 2"),
        (["cat", 3], "Label 2 must be a name or an object"),
        (["cat", None], "Label 2 must be a name or an object"),
        (["cat", ["dog"]], "Label 2 must be a name or an object"),
        (["cat", {"name": "dog", "shortcut": "d"}], "unknown fields: shortcut"),
        (["cat", {"color": "#000000"}], "Label 2 needs a non-empty name"),
        (["cat", "   "], "Label 2 needs a non-empty name"),
        (["cat", {"name": 5}], "Label 2 needs a non-empty name"),
        (["cat", "d" * 101], "too long"),
        (["cat", "do\ng"], "control characters"),
        (["cat", {"name": "dog", "color": "red"}], "colour must look like"),
        (["cat", {"name": "dog", "color": "#12345"}], "colour must look like"),
        (["cat", {"name": "dog", "color": "#1234567"}], "colour must look like"),
        (["cat", {"name": "dog", "color": "#gggggg"}], "colour must look like"),
        (["cat", {"name": "dog", "colour": 123456}], "colour must look like"),
        (["cat", {"name": "dog", "hotkey": "do"}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "hotkey": "!"}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "hotkey": 1}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "id": "3"}], "id must be an integer"),
        (["cat", {"name": "dog", "id": True}], "id must be an integer"),
        (["cat", {"name": "dog", "id": 1.5}], "id must be an integer"),
        (["cat", "Cat"], "Duplicate label name: 'cat'"),
        (["cat", " cat "], "Duplicate label name"),
        ([{"name": "a", "hotkey": "x"}, {"name": "b", "hotkey": "X"}], "Duplicate hotkey: 'x'"),
        ([{"name": "a", "id": 1}, {"name": "b", "id": 1}], "Duplicate label id: 1"),
    ],
)
def test_bad_definitions_are_refused_with_a_message_about_labels(raw, message):
    """Each malformed definition raises ValidationFailed on the `labels` field, naming it."""
    with pytest.raises(ValidationFailed, match=message) as caught:
        labels_parse(raw, multi_label=False)
    assert caught.value.field == "labels"


def test_too_many_labels_are_refused():
    """A project has at most MAX_LABELS labels."""
    labels_parse([f"l{i}" for i in range(MAX_LABELS)], multi_label=True)
    with pytest.raises(ValidationFailed, match=f"at most {MAX_LABELS}"):
        labels_parse([f"l{i}" for i in range(MAX_LABELS + 1)], multi_label=True)


CURRENT = [
    LabelSpec(name="cat", color="#111111", hotkey="c", id=10),
    LabelSpec(name="dog", color="#222222", hotkey="d", id=11),
]


def test_a_stored_label_keeps_its_colour_and_hotkey_when_renamed():
    """Renaming by id keeps the colour and hotkey the request does not change."""
    raw = [{"id": 10, "name": "kitty"}, {"id": 11, "name": "dog", "color": "#333333"}]
    assert parsed(raw, current=CURRENT) == [
        ("kitty", "#111111", "c", 10),
        ("dog", "#333333", "d", 11),
    ]


def test_a_stored_label_named_without_id_is_that_label():
    """A plain name of a stored label (in any case) refers to it, so adding keeps ids."""
    assert parsed(["Cat", "dog", "fish"], current=CURRENT) == [
        ("Cat", "#111111", "c", 10),
        ("dog", "#222222", "d", 11),
        ("fish", PALETTE[2], "1", None),
    ]


def test_a_name_freed_by_a_rename_is_a_new_label():
    """Renaming cat to dog frees "cat"; a plain "cat" alongside is a new label."""
    raw = [{"id": 10, "name": "dog"}, "cat"]
    assert parsed(raw, current=CURRENT) == [
        ("dog", "#111111", "c", 10),
        ("cat", PALETTE[1], "1", None),
    ]


def test_a_new_hotkey_clashing_with_a_kept_one_is_refused():
    """A stored label keeps its hotkey, so a new label cannot take it without a swap."""
    with pytest.raises(ValidationFailed, match="Duplicate hotkey: 'c'"):
        labels_parse(
            ["cat", "dog", {"name": "cow", "hotkey": "c"}], multi_label=False, current=CURRENT
        )
    swapped = [{"id": 10, "name": "cat", "hotkey": "x"}, "dog", {"name": "cow", "hotkey": "c"}]
    assert [s[2] for s in parsed(swapped, current=CURRENT)] == ["x", "d", "c"]


@pytest.mark.parametrize(
    "name", ["\u202e", "\u200b\u200d", "cat\u202edog", "\u2066x\u2069", "\u0301"]
)
def test_a_name_with_direction_controls_or_nothing_visible_is_refused(name):
    with pytest.raises(ValidationFailed, match="direction controls or nothing visible"):
        labels_parse([name, "other"], multi_label=False)


@pytest.mark.parametrize("name", ["Été", "猫", "👨\u200d👩\u200d👧", "n/a", "x\u0301"])
def test_names_in_any_script_with_marks_and_joiners_are_kept(name):
    assert labels_parse([name, "other"], multi_label=False)[0].name == name
