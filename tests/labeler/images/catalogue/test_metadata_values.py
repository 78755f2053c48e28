"""The values an image's metadata takes, checked without a database: each one either comes
out as stored or is refused with a message naming its field."""

from __future__ import annotations

import datetime as dt

import pytest

from labeler.errors import ValidationFailed
from labeler.images.catalogue.metadata_keys import RESERVED_NAMES, builtin_key, field_key
from labeler.images.catalogue.metadata_values import (
    choices_clean,
    field_value_clean,
    moment_clean,
    position_clean,
    text_clean,
)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2024-05-01T10:00:00+02:00", dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)),
        ("2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)),
        ("2024-05-01 10:00:00", dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)),  # COCO's
        (" 2024-05-01 ", dt.datetime(2024, 5, 1, tzinfo=dt.UTC)),
        (None, None),
        ("", None),
    ],
)
def test_a_capture_time_is_stored_in_utc(given, stored):
    assert moment_clean(given, field="captured_at") == stored


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("yesterday", "'yesterday' is not a date and time"),
        ("2024-02-30", "is not a date and time"),
        (20240501, "must be a date and time as text"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_a_capture_time_that_is_none_is_refused_naming_its_field(given, words):
    with pytest.raises(ValidationFailed, match=words) as refused:
        moment_clean(given, field="items[2].captured_at")
    assert refused.value.field == "items[2].captured_at"


def test_a_position_is_both_coordinates_in_range_or_none():
    assert position_clean("48.85", 2.35) == (48.85, 2.35)  # a CSV cell's text too
    assert position_clean(None, None) is None
    for latitude, longitude, field in [
        (91, 0, "gps.latitude"),
        (0, -180.5, "gps.longitude"),
        (float("nan"), 0, "gps.latitude"),
        ("north", 0, "gps.latitude"),
        (True, 0, "gps.latitude"),
        (10, None, "gps.longitude"),
        (10**400, 0, "gps.latitude"),  # a JSON integer no float holds
    ]:
        with pytest.raises(ValidationFailed) as refused:
            position_clean(latitude, longitude)
        assert refused.value.field == field, (latitude, longitude)


@pytest.mark.parametrize(
    ("kind", "given", "stored"),
    [
        ("number", "3.5", 3.5),
        ("number", 7, 7.0),
        ("number", "", None),
        ("date", "2024-05-01", dt.date(2024, 5, 1)),
        ("text", "  north  ", "north"),
        ("text", 34, "34"),  # a number given to a text field is its text
        ("text", "", None),
        ("choice", "north", "north"),
    ],
)
def test_a_fields_value_is_stored_as_its_kind(kind, given, stored):
    assert field_value_clean(kind, ["north", "south"], given, field="site") == stored


@pytest.mark.parametrize(
    ("kind", "given", "words"),
    [
        ("number", "abc", "is not a finite number"),
        ("number", "inf", "is not a finite number"),
        ("number", True, "is not a finite number"),
        ("date", "2024-02-30", "is not a date"),
        ("date", 20240501, "is not a date"),
        ("choice", "west", "'west' is not one of 'north', 'south'"),
        ("choice", "North", "is not one of"),  # a choice is as declared
        ("text", "x" * 256, "at most 255"),
        ("text", "a\nb", "line breaks"),
        ("text", ["a"], "must be text"),
        ("number", 10**400, "is not a finite number"),  # a JSON integer past a float's range
        ("number", 2**1024 - 1, "is not a finite number"),  # rounds up past the largest float
    ],
)
def test_a_value_its_field_cannot_hold_is_refused_naming_the_field(kind, given, words):
    with pytest.raises(ValidationFailed, match=words) as refused:
        field_value_clean(kind, ["north", "south"], given, field="fields.site")
    assert refused.value.field == "fields.site"


def test_choices_are_distinct_short_texts():
    assert choices_clean([" north", "south "]) == ["north", "south"]
    bad_choices = ([], ["a", "a"], ["North", "north"], [""], "north", [1], ["x" * 101])
    for bad in (*bad_choices, [f"c{n}" for n in range(201)]):
        with pytest.raises(ValidationFailed):
            choices_clean(bad)


def test_text_is_kept_composed_so_one_letter_is_one_value_however_typed():
    """An "é" as one character or as "e" and an accent is one value: a choice cannot be
    given twice so, and a value typed either way is the choice."""
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    with pytest.raises(ValidationFailed, match="given twice"):
        choices_clean([composed, decomposed])
    assert choices_clean([decomposed]) == [composed]
    assert field_value_clean("choice", [composed], decomposed, field="site") == composed
    assert text_clean(decomposed, field="origin", most=10) == composed


def test_free_text_is_trimmed_and_bounded():
    assert text_clean("  Kaggle  ", field="origin", most=10) == "Kaggle"
    assert text_clean(None, field="origin", most=10) == ""
    with pytest.raises(ValidationFailed, match="at most 10"):
        text_clean("x" * 11, field="origin", most=10)


def test_columns_name_the_built_in_fields_by_their_aliases_and_fields_by_prefix():
    assert [builtin_key(k) for k in ("Date_Captured", "gps_latitude", "lng", "License")] == [
        "captured_at",
        "latitude",
        "longitude",
        "licence",
    ]
    assert builtin_key("site") is None
    assert field_key("field:site") == "site" and field_key("Field: site ") == "site"
    assert field_key("site") is None
    assert {"file_name", "label", "captured_at", "gps"} <= RESERVED_NAMES
