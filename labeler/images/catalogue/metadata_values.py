"""The values an image's metadata may hold, checked: capture times, positions, free text and a
project field's typed values.

Pure: each function takes a value as it came (JSON's types, or a CSV cell's text) and
returns it as stored, or raises ValidationFailed naming ``field`` and saying what is
wrong. The REST bodies, the imports and the pages all come through here
(``labeler.images.catalogue.descriptions``), so one value is refused alike whichever way it came.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Sequence
from typing import Any

from labeler.dates_in import day_read, moment_read
from labeler.errors import ValidationFailed

TEXT_LENGTH = 255  # FieldValue.text's
ORIGIN_LENGTH = 512  # Image.origin's
CAMERA_LENGTH = 128  # Image.camera's
CHOICES_MAX = 200
CHOICE_LENGTH = 100


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _blank(value: Any) -> bool:
    """Whether a value says nothing: null, or text of blanks (an empty CSV cell)."""
    return value is None or (isinstance(value, str) and not value.strip())


def text_form(text: str) -> str:
    """Text in the one form it is stored and compared in: Unicode's composed form (NFC),
    so that "é" typed as one character or as "e" and an accent is one value (a filter's
    value is put in this form too)."""
    return unicodedata.normalize("NFC", text)


def text_clean(value: Any, *, field: str, most: int) -> str:
    """Free text as stored: trimmed, composed (``text_form``), on one line, at most
    ``most`` characters; "" for none."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text, not {_shown(value)}.", field=field)
    text = text_form(value.strip())
    if len(text) > most:
        raise ValidationFailed(
            f"{field} is {len(text)} characters long; at most {most}.", field=field
        )
    if not text.isprintable():
        raise ValidationFailed(f"{field} holds line breaks or control characters.", field=field)
    return text


def moment_clean(value: Any, *, field: str) -> dt.datetime | None:
    """A capture time: ISO 8601 (``2024-05-01T10:00:00Z``, ``2024-05-01 10:00:00``, a date:
    its midnight), in UTC where it names no offset; None for null or blank. Read, and
    kept within the accepted years, by ``labeler.dates_in``."""
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise ValidationFailed(
            f"{field} must be a date and time as text (2024-05-01T10:00:00Z), not {_shown(value)}.",
            field=field,
        )
    return moment_read(value, field=field)


def date_clean(value: Any, *, field: str) -> dt.date | None:
    """A date field's value: ISO 8601 ``2024-05-01`` (``labeler.dates_in``); None for
    null or blank."""
    if _blank(value):
        return None
    if isinstance(value, str):
        return day_read(value, field=field)
    raise ValidationFailed(
        f"{field}: {_shown(value)} is not a date (ISO 8601: 2024-05-01).", field=field
    )


def number_clean(value: Any, *, field: str) -> float | None:
    """A finite number, or its text (a CSV cell); None for null or blank."""
    if _blank(value):
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a JSON integer past a float's range: no finite number
            number = math.inf
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValidationFailed(f"{field}: {_shown(value)} is not a finite number.", field=field)
    return number


def coordinate_clean(value: Any, *, field: str, limit: float) -> float | None:
    """A latitude (``limit`` 90) or longitude (180) in decimal degrees; None for none."""
    number = number_clean(value, field=field)
    if number is not None and not -limit <= number <= limit:
        raise ValidationFailed(
            f"{field}: {number:g} is not between -{limit:g} and {limit:g} degrees.", field=field
        )
    return number


def position_clean(
    latitude: Any, longitude: Any, *, field: str = "gps"
) -> tuple[float, float] | None:
    """A position, both coordinates or neither (None)."""
    lat = coordinate_clean(latitude, field=f"{field}.latitude", limit=90)
    lon = coordinate_clean(longitude, field=f"{field}.longitude", limit=180)
    if (lat is None) != (lon is None):
        missing = "longitude" if lon is None else "latitude"
        raise ValidationFailed(
            f"{field}: a position needs both latitude and longitude; {missing} is missing.",
            field=f"{field}.{missing}",
        )
    return None if lat is None or lon is None else (lat, lon)


def choices_clean(value: Any, *, field: str = "choices") -> list[str]:
    """A choice field's choices: a list of short texts that differ in more than their case
    and their Unicode form (the filters compare them in any case), at least one."""
    if not isinstance(value, list | tuple):
        raise ValidationFailed(
            f'{field} must be a list of texts, such as ["north", "south"].', field=field
        )
    choices: list[str] = []
    for item in value:
        choice = text_clean(item, field=field, most=CHOICE_LENGTH)
        if not choice:
            raise ValidationFailed(f"{field}: a choice cannot be empty.", field=field)
        twin = next((c for c in choices if c.casefold() == choice.casefold()), None)
        if twin is not None:
            same = "twice" if twin == choice else f"twice, as {twin!r} too"
            raise ValidationFailed(f"{field}: {choice!r} is given {same}.", field=field)
        choices.append(choice)
    if not choices:
        raise ValidationFailed(f"{field}: a choice field needs at least one choice.", field=field)
    if len(choices) > CHOICES_MAX:
        raise ValidationFailed(
            f"{field}: at most {CHOICES_MAX} choices, not {len(choices)}.", field=field
        )
    return choices


def field_value_clean(
    kind: str, choices: Sequence[str], value: Any, *, field: str
) -> str | float | dt.date | None:
    """A project field's value as its kind stores it (text, number, date or one of its
    choices); None (null, or blank text) clears it."""
    if kind == "number":
        return number_clean(value, field=field)
    if kind == "date":
        return date_clean(value, field=field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{value:g}" if isinstance(value, float) else str(value)  # a number given as text
    text = text_clean(value, field=field, most=TEXT_LENGTH)
    if not text:
        return None
    if kind == "choice" and text not in choices:
        shown = ", ".join(repr(c) for c in choices[:20]) + (", ..." if len(choices) > 20 else "")
        raise ValidationFailed(f"{field}: {text!r} is not one of {shown}.", field=field)
    return text


def field_value_json(value: str | float | dt.date) -> str | float:
    """A project field's stored value as JSON carries it (the API, the exports): a date as
    ISO 8601 text, text and numbers as they are."""
    return value.isoformat() if isinstance(value, dt.date) else value
