"""NUL and lone surrogates found in any string, wherever it was nested, and named."""

from __future__ import annotations

import json

import pytest
from django.http import QueryDict

from labeler.errors import ValidationFailed
from labeler.text_in import (
    data_refuse_unsafe,
    pairs_refuse_unsafe,
    query_refuse_unsafe,
    text_refuse_unsafe,
    text_unsafe_find,
)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("a\x00b", "the NUL character (U+0000)"),
        (json.loads('"\\ud800"'), "a lone surrogate (U+D800, half of a UTF-16 pair)"),
        (json.loads('"x\\udfff"'), "a lone surrogate (U+DFFF, half of a UTF-16 pair)"),
        # The two halves in the wrong order are two lone ones.
        (json.loads('"\\ude00\\ud83d"'), "a lone surrogate (U+DE00, half of a UTF-16 pair)"),
    ],
)
def test_nul_and_lone_surrogates_are_found(text, what):
    assert text_unsafe_find(text) == what
    with pytest.raises(ValidationFailed) as refusal:
        text_refuse_unsafe(text, field="note")
    assert refusal.value.field == "note"
    assert refusal.value.message == f"note: holds {what}, which no text here can contain."


@pytest.mark.parametrize(
    "text", ["", "plain", "\ufffd", "caf\u00e9 \u732b", json.loads('"\\ud83d\\ude00"'), "\x01\t\n"]
)
def test_other_text_passes(text):
    """A well-formed pair is one character to Python (JSON joins the two escapes)."""
    assert text_unsafe_find(text) is None
    text_refuse_unsafe(text, field="note")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"a": [1, {"b": "x\x00"}]}, "a[1].b"),
        (["ok", "\ud800"], "[1]"),
        ({"ok": 1, "bad\x00": 2}, "a key of the body"),
        ({"outer": {"\udc00": 1}}, "a key of outer"),
        ("\x00", "the body"),
    ],
)
def test_decoded_data_is_walked_at_any_depth_naming_the_path(data, field):
    with pytest.raises(ValidationFailed) as refusal:
        data_refuse_unsafe(data)
    assert refusal.value.field == field


def test_the_walk_names_paths_within_a_field_and_outlives_the_recursion_limit():
    deep: object = "\x00"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValidationFailed) as refusal:
        data_refuse_unsafe({"c": deep}, field="cursor")
    assert refusal.value.field == "cursor.c" + "[0]" * 5000
    data_refuse_unsafe({"a": [1, 2.5, None, True, {"b": "fine"}]})


def test_form_pairs_name_the_parameter_or_escape_its_name():
    with pytest.raises(ValidationFailed) as refusal:
        pairs_refuse_unsafe(QueryDict("a=1&b=2&b=x%00").lists())
    assert refusal.value.field == "b"
    with pytest.raises(ValidationFailed) as refusal:
        pairs_refuse_unsafe(QueryDict("x%00y=1").lists())
    assert refusal.value.field == "the name x\\u0000y"


@pytest.mark.parametrize(
    ("raw", "within", "field", "what"),
    [
        (b"a=1&b=x%00", "", "b", "holds the NUL character"),
        (b"a=\x00", "", "a", "holds the NUL character"),  # a raw NUL, not escaped
        (b"tag=%ED%A0%80", "", "tag", "its bytes are not UTF-8"),
        (b"tag=\xed\xa0\x80", "", "tag", "its bytes are not UTF-8"),
        (b"q=%FF", "", "q", "its bytes are not UTF-8"),
        (b"x%00=1", "", "the name x\\u0000", "holds the NUL character"),
        (b"%FF=1", "", "the name b'\\xff'", "its bytes are not UTF-8"),
        ("name=a%00b", "selection.filter", "selection.filter.name", "holds the NUL character"),
        ("tag=\ud800", "selection.filter", "selection.filter.tag", "its bytes are not UTF-8"),
        ("a%00=", "filter", "the name a\\u0000 in filter", "holds the NUL character"),
    ],
)
def test_query_strings_are_read_strictly_as_utf8(raw, within, field, what):
    """Django would have made U+FFFD of the bytes that are not UTF-8, without a word."""
    with pytest.raises(ValidationFailed) as refusal:
        query_refuse_unsafe(raw, within=within)
    assert refusal.value.field == field
    assert refusal.value.message.startswith(f"{field}: {what}")


@pytest.mark.parametrize("raw", [b"", b"a=1&b=&c", b"name=caf%C3%A9+au+lait", "tag=\u732b"])
def test_query_strings_of_utf8_text_pass(raw):
    query_refuse_unsafe(raw)
