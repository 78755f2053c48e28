"""labels_parse: label definitions from names or objects, checked, with defaults filled in."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.errors import ValidationFailed
from labeler.projects.hotkeys import hotkey_prefix_clash
from labeler.projects.labels import (
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


def test_nine_labels_get_the_digits_and_colours_wrap_around_the_palette():
    """Up to nine labels get the keys 1 to 9; colours wrap around the palette."""
    specs = labels_parse([f"l{i}" for i in range(9)], multi_label=True)
    assert [s.hotkey for s in specs] == list("123456789")
    many = labels_parse([f"l{i}" for i in range(40)], multi_label=True)
    assert many[len(PALETTE)].color == PALETTE[0]


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
        (["cat", {"name": "dog", "hotkey": "dog"}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "hotkey": "!"}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "hotkey": "d."}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "hotkey": 1}], "hotkey must be one letter or digit"),
        (["cat", {"name": "dog", "group": 3}], "group must be a text"),
        (["cat", {"name": "dog", "group": "g" * 101}], "longer than 100"),
        (["cat", {"name": "dog", "group": "a\u202eb"}], "control characters"),
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


# ---- large label sets: chords, prefix-free sets, groups -------------------------------


def test_more_than_nine_labels_get_mnemonic_chords():
    """Past nine labels every default is a two-key chord from the name: its first letter,
    then its second word's (or a later letter); a taken chord moves on to the next letter."""
    names = ["red fox", "zebra", "zebu", "zorilla", "otter", "owl", "orca", "ox", "ibis", "Élan"]
    assert [s.hotkey for s in labels_parse(names, multi_label=False)] == [
        "rf", "ze", "zb", "zo", "ot", "ow", "or", "ox", "ib", "el",
    ]  # fmt: skip


def test_three_hundred_labels_get_distinct_prefix_free_chords():
    """300 labels (the ten digits of thirty groups) all get a distinct chord."""
    raw = [{"name": f"{word} {n}", "group": word} for word in WORDS for n in range(10)]
    specs = labels_parse(raw, multi_label=False)
    keys = [s.hotkey for s in specs]
    assert len(specs) == 300 and all(len(key) == 2 for key in keys)
    assert len(set(keys)) == 300 and hotkey_prefix_clash(keys) is None
    assert specs[0].hotkey == "a0" and specs[0].group == "alder"


WORDS = [
    "alder",
    "birch",
    "cedar",
    "dogwood",
    "elm",
    "fir",
    "ginkgo",
    "hazel",
    "ilex",
    "juniper",
    "kapok",
    "larch",
    "maple",
    "nutmeg",
    "oak",
    "pine",
    "quince",
    "rowan",
    "spruce",
    "teak",
    "ulmus",
    "viburnum",
    "willow",
    "xylosma",
    "yew",
    "zelkova",
    "acacia",
    "beech",
    "cypress",
    "date",
]


def test_names_without_latin_letters_get_sequential_chords():
    """A name with nothing to draw a chord from gets the next free pair."""
    specs = labels_parse(["猫", "犬"] + [f"l{i}" for i in range(8)], multi_label=False)
    assert [specs[0].hotkey, specs[1].hotkey] == ["aa", "ab"]


def test_a_single_key_may_not_start_a_chord():
    """A set where one label's key is the first key of another's chord is refused, naming
    both labels; defaults never make one."""
    raw = [{"name": "goose", "hotkey": "g"}, {"name": "gannet", "hotkey": "ga"}]
    with pytest.raises(ValidationFailed, match="'g' of label 'goose' is the first key of the "
                       "chord 'ga' of label 'gannet'") as caught:  # fmt: skip
        labels_parse(raw, multi_label=False)
    assert caught.value.field == "labels"
    raw = [{"name": "goose", "hotkey": "g"}] + [f"g{i}" for i in range(10)]
    keys = [s.hotkey for s in labels_parse(raw, multi_label=False)]
    assert keys[0] == "g" and hotkey_prefix_clash(keys) is None
    assert not any(key.startswith("g") for key in keys[1:])


def test_chords_are_given_in_lower_case():
    assert parsed([{"name": "cat", "hotkey": " CA "}, "dog"])[0][2] == "ca"


def test_stored_hotkeys_stay_when_labels_are_added():
    """A project of nine digit-keyed labels that grows keeps its keys; the new labels get
    chords that no stored key starts."""
    current = [LabelSpec(name=f"l{i}", color="#111111", hotkey=str(i + 1), id=i) for i in range(9)]
    raw = [f"l{i}" for i in range(9)] + ["10 plus", "falcon"]
    keys = [s.hotkey for s in labels_parse(raw, multi_label=False, current=current)]
    assert keys[:9] == list("123456789")
    assert keys[10] == "fa" and keys[9][0] not in "123456789"
    assert hotkey_prefix_clash(keys) is None


def test_groups_are_kept_trimmed_and_stay_when_not_given():
    """A group is the heading a label sits under: spaces are tidied, "" means none, and a
    stored label keeps its group unless the request gives another."""
    raw = [{"name": "oak", "group": "  Broad   leaf "}, "pine"]
    assert [s.group for s in labels_parse(raw, multi_label=False)] == ["Broad leaf", ""]
    current = [LabelSpec(name="oak", color="#111111", hotkey="1", id=1, group="Trees")]
    kept = labels_parse(["oak", "pine"], multi_label=False, current=current)
    assert [s.group for s in kept] == ["Trees", ""]
    cleared = labels_parse(
        [{"name": "oak", "group": ""}, "pine"], multi_label=False, current=current
    )
    assert cleared[0].group == ""
