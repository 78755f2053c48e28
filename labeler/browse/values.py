"""Reading the data browser's query parameters: every value a filter takes comes through here.

Each reader raises ValidationFailed naming the parameter for a value it cannot read, so a
filter never reaches the database with text it cannot store (NUL, a lone surrogate), a
moment with no UTC equivalent or a user outside the project (a 500, or an answer that
tells one user from another).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from labeler.annotations.models import Annotation
from labeler.dates_in import moment_read
from labeler.errors import ValidationFailed
from labeler.projects.models import Label, Membership, Project
from labeler.text_in import text_refuse_unsafe

MAX_VALUES = 50
TRUE_FALSE = {"true": True, "1": True, "false": False, "0": False}


def param_values(params: Mapping[str, Any], name: str) -> list[str]:
    """Every non-empty value of a parameter, from a QueryDict or a mapping of lists.

    A value holding NUL or a lone surrogate is a 400 naming the parameter: no text
    stored here can hold either.
    """
    raw = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
    values = [raw] if isinstance(raw, str) else list(raw or [])
    found = [str(value).strip() for value in values if str(value).strip()]
    for value in found:
        text_refuse_unsafe(value, field=name)
    return found


def choice_values(name: str, values: list[str], choices: Sequence[tuple[str, str]]) -> list[str]:
    """The values, each one of ``choices``; another is a 400 listing them."""
    known = [value for value, _ in choices]
    for value in values:
        if value not in known:
            raise ValidationFailed(
                f"{name}: unknown value {value!r}; use one of {', '.join(known)}.", field=name
            )
    return values


def label_ids(name: str, values: list[str], project: Project) -> list[int]:
    """Labels of the project by id or (any case) name."""
    labels = list(Label.objects.filter(project=project).values_list("pk", "name"))
    by_name = {label_name.casefold(): pk for pk, label_name in labels}
    ids = {pk for pk, _ in labels}
    found = []
    for value in values:
        pk = int(value) if value.isascii() and value.isdigit() else by_name.get(value.casefold())
        if pk not in ids:
            raise ValidationFailed(
                f"{name}: {value!r} is not a label of this project (give its id or name).",
                field=name,
            )
        found.append(pk)
    return found


def user_ids(name: str, values: list[str], project: Project) -> list[int]:
    """Users by id or username, among the project's members and those who annotated in it.

    Any other value, a user who exists elsewhere or no user at all, is the same 400: the
    answer tells nobody which usernames exist.
    """
    involved = Q(pk__in=Membership.objects.filter(project=project).values("user_id")) | Q(
        pk__in=Annotation.objects.filter(project=project).values("annotator_id")
    )
    users = get_user_model().objects.filter(involved)
    found = []
    for value in values:
        if value.isascii() and value.isdigit() and len(value) < 19:
            pk = users.filter(pk=int(value)).values_list("pk", flat=True).first()
        else:
            pk = users.filter(username=value).values_list("pk", flat=True).first()
        if pk is None:
            raise ValidationFailed(
                f"{name}: {value!r} is no annotator of this project.", field=name
            )
        found.append(pk)
    return found


def integer_value(name: str, values: list[str]) -> int:
    """The last value, a whole number from 0 to 10,000."""
    value = values[-1]
    if not (value.isascii() and value.isdigit()) or int(value) > 10_000:
        raise ValidationFailed(f"{name}: {value!r} is not a whole number from 0.", field=name)
    return int(value)


def number_value(name: str, values: list[str]) -> float:
    """The last value, a number from 0 to 1."""
    value = values[-1]
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise ValidationFailed(f"{name}: {value!r} is not a number from 0 to 1.", field=name)
    return number


def boolean_value(name: str, values: list[str]) -> bool:
    """The last value, true or false (1 or 0, any case)."""
    value = values[-1]
    if value.lower() not in TRUE_FALSE:
        raise ValidationFailed(f"{value!r} is neither true nor false.", field=name)
    return TRUE_FALSE[value.lower()]


def text_value(name: str, value: str, *, most: int) -> str:
    """A value of at most ``most`` characters."""
    if len(value) > most:
        raise ValidationFailed(f"{name}: at most {most} characters.", field=name)
    return value


def moment_value(name: str, values: list[str], *, end: bool = False) -> dt.datetime:
    """An ISO 8601 date or time, in UTC; a date is its midnight (``end``: the next one).

    A time without an offset is in the server's TIME_ZONE. Read by ``labeler.dates_in``,
    which refuses a moment outside the accepted years with a 400 saying them.
    """
    zone = timezone.get_current_timezone()
    return moment_read(values[-1], field=name, zone=zone, day_end=end)
