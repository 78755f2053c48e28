"""Export options: every value checked, a bad one refused naming its field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict

from labeler.errors import ValidationFailed
from labeler.exports.options import ExportOptions, export_options_parse


def test_defaults_depend_on_the_format():
    """Every annotation for the text formats, final labels for COCO and the folders."""
    assert export_options_parse({}) == ExportOptions()
    assert export_options_parse({"format": "csv"}).annotations == "all"
    for fmt in ("coco", "imagefolder", "hf-imagefolder"):
        assert export_options_parse({"format": fmt}).annotations == "final"


def test_the_archives_convert_images_unless_asked_not_to():
    """ImageFolder and Hugging Face zips convert HEIC, AVIF and GIF by default; the option
    reads from a query string as from JSON, and other formats leave it unset."""
    for fmt in ("imagefolder", "hf-imagefolder"):
        assert export_options_parse({"format": fmt}).convert_images is True
        kept = export_options_parse(QueryDict(f"format={fmt}&convert_images=false"))
        assert kept == export_options_parse({"format": fmt, "convert_images": False})
        assert kept.convert_images is False and export_options_parse(kept.as_dict()) == kept
    assert export_options_parse({"format": "label-studio-zip"}).convert_images is None


def test_query_strings_and_json_bodies_give_the_same_options():
    query = QueryDict(
        "format=jsonl&split=0.8,0.1,0.1&seed=7&min_confidence=0.5&reviewed_only=true"
        "&since=2026-01-02&until=2026-01-03T10:00:00%2B00:00&predictions=1&label=cat"
    )
    body = {
        "format": "jsonl",
        "split": [0.8, 0.1, 0.1],
        "seed": 7,
        "min_confidence": 0.5,
        "reviewed_only": True,
        "since": "2026-01-02",
        "until": "2026-01-03T10:00:00+00:00",
        "predictions": True,
        "label": "cat",
    }
    options = export_options_parse(query)
    assert options == export_options_parse(body)
    assert options.split == (0.8, 0.1, 0.1) and options.split_names == ("train", "val", "test")
    assert options.since == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert export_options_parse(options.as_dict()) == options


def test_a_date_until_reaches_the_end_of_its_day():
    options = export_options_parse({"until": "2026-01-02"})
    assert options.until == dt.datetime(2026, 1, 2, 23, 59, 59, 999999, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"format": "JSON"}, "format"),
        ({"annotations": "some"}, "annotations"),
        ({"format": "imagefolder", "annotations": "all"}, "annotations"),
        ({"format": "hf-imagefolder", "annotations": "all"}, "annotations"),
        ({"min_confidence": "high"}, "min_confidence"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"min_confidence": "nan"}, "min_confidence"),
        ({"min_agreement": -0.1}, "min_agreement"),
        ({"min_agreement": True}, "min_agreement"),
        ({"reviewed_only": "maybe"}, "reviewed_only"),
        ({"reviewed_only": ""}, "reviewed_only"),
        ({"format": "json", "predictions": ""}, "predictions"),
        ({"split": "0.8"}, "split"),
        ({"split": "0.5,0.2,0.2,0.1"}, "split"),
        ({"split": "0.8,0.3"}, "split"),
        ({"split": "a,b"}, "split"),
        ({"split": 5}, "split"),
        ({"split": [10**400, 0]}, "split"),  # a JSON integer no float holds
        ({"min_confidence": 10**400}, "min_confidence"),
        ({"split": "project", "seed": 3}, "seed"),  # the project's split draws nothing
        ({"seed": "x"}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": 2**70}, "seed"),
        ({"annotator": ""}, "annotator"),
        ({"label": 3}, "label"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-02-02", "until": "2026-02-01"}, "until"),
        ({"format": "csv", "predictions": True}, "predictions"),
        ({"format": "imagefolder", "predictions": "yes"}, "predictions"),
        ({"colour": "red"}, "colour"),
        ({"format": "imagefolder", "convert_images": "jpeg"}, "convert_images"),
        ({"format": "hf-imagefolder", "convert_images": ""}, "convert_images"),
        ({"format": "json", "convert_images": True}, "convert_images"),
        ({"format": "label-studio-zip", "convert_images": False}, "convert_images"),
    ],
)
def test_a_bad_value_names_its_field(data, field):
    with pytest.raises(ValidationFailed) as caught:
        export_options_parse(data)
    assert caught.value.field == field
    assert caught.value.message


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        export_options_parse(["json"])  # type: ignore[arg-type]
    assert caught.value.field == "options"


def test_a_time_is_handed_on_in_utc_whatever_its_offset():
    """PostgreSQL takes offsets up to 15:59 only: -16:09 in a filter was a 500 there."""
    options = export_options_parse({"since": "2026-01-01T00:00-16:09", "until": "2026-01-02"})
    assert options.since == dt.datetime(2026, 1, 1, 16, 9, tzinfo=dt.UTC)
    assert options.since.utcoffset() == dt.timedelta(0)
    assert options.until is not None and options.until.utcoffset() == dt.timedelta(0)


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("field", "value"), [("since", "9999-12-31T23:59-15:00"), ("until", "0001-01-01T00:00+15:00")]
)
def test_a_time_with_no_utc_equivalent_is_refused(field, value):
    """Beyond year 9999 or before year 1 once in UTC (an OverflowError on SQLite)."""
    with pytest.raises(ValidationFailed) as refusal:
        export_options_parse({field: value})
    assert refusal.value.field == field
    assert refusal.value.message == (
        f"{field}: {value} is out of range: give a date from 1000-01-01 to 9998-12-31 "
        "(years 1000 to 9998, in UTC)."
    )
