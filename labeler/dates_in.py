"""Dates and times from outside, read and checked in one place: the one owner of that rule.

Every date or time that arrives as text (a metadata value or a project field's date, a
filter, a query parameter, a cursor, an import's record) is read here and refused unless
it lies from ``EARLIEST_DAY`` to ``LATEST_DAY`` (years 1000 to 9998, in UTC). The ends
leave room for what the site does with a date: a month's slice reaches to the first of
the next month, a day's filter to the next midnight, a page shows it in any time zone,
and a year always has four digits (``strftime`` writes year 999 as ``999``, which nothing
reads back). A date past them was stored, then a 500 for every report that read it.

Pure Python, no Django: the imports' readers (which the command-line client shares) call
it too. A refusal is a ``ValidationFailed`` naming the field, which both faces answer as
a 400 saying the accepted range.
"""

from __future__ import annotations

import datetime as dt
import re

from labeler.errors import ValidationFailed

FIRST_YEAR = 1000
LAST_YEAR = 9998
EARLIEST_DAY = dt.date(FIRST_YEAR, 1, 1)
LATEST_DAY = dt.date(LAST_YEAR, 12, 31)
EARLIEST = dt.datetime.combine(EARLIEST_DAY, dt.time.min, tzinfo=dt.UTC)
LATEST = dt.datetime.combine(LATEST_DAY, dt.time.max, tzinfo=dt.UTC)
_WALL_EARLIEST = EARLIEST - dt.timedelta(days=1)  # a day beyond: any offset stays in the calendar
_WALL_LATEST = LATEST + dt.timedelta(days=1)
RANGE = f"from {EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}"

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_LONG_YEAR = re.compile(r"[+-]?\d{5,}-", re.ASCII)  # year 10000 and on: past the range


def day_read(text: str, *, field: str) -> dt.date:
    """A date written ``2024-05-01``; refused (ValidationFailed naming ``field``) when it
    is no such date (``2024-02-31``) or lies outside the accepted range."""
    text = text.strip()
    if _DAY.fullmatch(text):
        try:
            return day_check(dt.date.fromisoformat(text), field=field)
        except ValueError:
            pass
    raise _unread(text, field=field, example="2024-05-01")


def moment_read(
    text: str, *, field: str, zone: dt.tzinfo = dt.UTC, day_end: bool = False
) -> dt.datetime:
    """A date and time in ISO 8601 (``2024-05-01T10:00:00Z``, ``2024-05-01 10:00``), in
    UTC; one that names no offset is in ``zone``. A date alone is its midnight, or with
    ``day_end`` the next one (a range's end), in ``zone``; the day is what must be within
    the accepted range. Refused (ValidationFailed naming ``field``) when it is no date and
    time or lies outside the accepted range (a time in UTC)."""
    text = text.strip()
    moment_example = "2024-05-01T10:00:00Z or 2024-05-01"
    if _DAY.fullmatch(text):  # a day: it is the one checked, whatever zone it starts in
        try:
            day = day_check(dt.date.fromisoformat(text), field=field)
        except ValueError:
            raise _unread(text, field=field, example=moment_example, what="date and time") from None
        start = dt.datetime.combine(day + dt.timedelta(days=int(day_end)), dt.time.min)
        return start.replace(tzinfo=zone).astimezone(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _unread(text, field=field, example=moment_example, what="date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment_check(moment, field=field, shown=text)


def day_check(day: dt.date, *, field: str) -> dt.date:
    """``day``, once it is within the accepted range (else ValidationFailed)."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise _out_of_range(day.isoformat(), field=field)
    return day


def moment_check(moment: dt.datetime, *, field: str, shown: str = "") -> dt.datetime:
    """``moment`` in UTC (UTC where it names no offset), once it is within the accepted
    range (else ValidationFailed); ``shown`` is how the message writes it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Its wall clock first: 0001-01-01T00:00+01:00 has no UTC equivalent at all.
    if not _WALL_EARLIEST <= moment.replace(tzinfo=dt.UTC) <= _WALL_LATEST:
        raise _out_of_range(shown or moment.isoformat(), field=field)
    moment = moment.astimezone(dt.UTC)
    if not EARLIEST <= moment <= LATEST:
        raise _out_of_range(shown or moment.isoformat(), field=field)
    return moment


def day_readable(text: str) -> bool:
    """Whether ``text`` is a date ``day_read`` takes (a page's date input shows it)."""
    try:
        day_read(text, field="")
    except ValidationFailed:
        return False
    return True


def _unread(text: str, *, field: str, example: str, what: str = "date") -> ValidationFailed:
    if _LONG_YEAR.match(text):
        return _out_of_range(text, field=field)
    shown = text if len(text) <= 40 else text[:37] + "..."
    return ValidationFailed(
        f"{_named(field)}{shown!r} is not a {what} (ISO 8601: {example}); give one {RANGE}.",
        field=field,
    )


def _out_of_range(shown: str, *, field: str) -> ValidationFailed:
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return ValidationFailed(
        f"{_named(field)}{shown} is out of range: give a date {RANGE} (years {FIRST_YEAR} to "
        f"{LAST_YEAR}, in UTC).",
        field=field,
    )


def _named(field: str) -> str:
    return f"{field}: " if field else ""
