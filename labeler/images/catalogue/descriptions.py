"""A change to what is said of an image, read and checked before anything is written.

A ``Description`` is what a lead (over REST or on the image's page) or an import sets of
an image's metadata: its capture time, position, origin, camera, licence, tags and the
project's own fields. ``description_read`` reads a REST body's keys;
``description_of_record`` what an import's columns or keys gave. Both check every value
(``labeler.images.catalogue.metadata_values``, the catalogue's licence and tag rules) and raise
ValidationFailed naming the field, so a change is stored whole (``catalogue``) or not at
all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labeler.errors import ValidationFailed
from labeler.images.catalogue import services as catalogue
from labeler.images.catalogue.metadata_keys import (
    CAMERA,
    CAPTURED_AT,
    FIELDS_KEY,
    LATITUDE,
    LICENCE,
    LONGITUDE,
    ORIGIN,
    POSITION_KEY,
    TAG_SEPARATORS,
    TAGS,
)
from labeler.images.catalogue.metadata_values import (
    CAMERA_LENGTH,
    ORIGIN_LENGTH,
    field_value_clean,
    moment_clean,
    position_clean,
    text_clean,
)
from labeler.images.models import MetadataField

FieldValueIn = str | float | dt.date | None
# The keys a REST body may hold, each a built-in field, or the object of project fields.
BODY_KEYS = (CAPTURED_AT, POSITION_KEY, ORIGIN, CAMERA, LICENCE, TAGS, FIELDS_KEY)


@dataclass
class Description:
    """What to set of an image: ``columns`` of its row (by model field name), its tags
    (None: left as they are) and its project fields' values (None: cleared)."""

    columns: dict[str, Any] = field(default_factory=dict)
    tags: list[str] | None = None
    fields: dict[int, tuple[MetadataField, FieldValueIn]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.columns or self.tags is not None or self.fields)


def description_read(
    data: Mapping[str, Any], *, fields: Mapping[str, MetadataField], at: str = ""
) -> Description:
    """The change a REST body asks for: any of ``BODY_KEYS`` (``gps`` an object with
    ``latitude`` and ``longitude``, or null; ``fields`` an object of the project's fields
    by name, a value or null each). ``at`` prefixes every field named in a refusal
    (``items[2].``)."""
    unknown = [key for key in data if key not in BODY_KEYS]
    if unknown:
        raise ValidationFailed(
            f"{at}{unknown[0]} cannot be set; the fields are {', '.join(BODY_KEYS)}.",
            field=f"{at}{unknown[0]}",
        )
    description = Description()
    columns = description.columns
    if CAPTURED_AT in data:
        columns["captured_at"] = moment_clean(data[CAPTURED_AT], field=f"{at}{CAPTURED_AT}")
    if POSITION_KEY in data:
        columns.update(_position_columns(data[POSITION_KEY], f"{at}{POSITION_KEY}"))
    _texts(columns, data, at)
    if TAGS in data:
        description.tags = catalogue.tags_clean(data[TAGS], field=f"{at}{TAGS}")
    if FIELDS_KEY in data:
        values = data[FIELDS_KEY]
        if not isinstance(values, Mapping):
            raise ValidationFailed(
                f"{at}{FIELDS_KEY} must be an object of field names and values, such as "
                '{"site": "north"}.',
                field=f"{at}{FIELDS_KEY}",
            )
        for name, value in values.items():
            _field_set(description, fields, name, value, f"{at}{FIELDS_KEY}.")
    return description


def description_of_record(
    values: Mapping[str, Any],
    named: Mapping[str, Any],
    extra: Mapping[str, Any],
    *,
    fields: Mapping[str, MetadataField],
    where: str,
    positions: bool = True,
) -> Description:
    """What an import's record says of its image: ``values`` by built-in name (position
    as ``latitude`` and ``longitude``; tags a list or text joined by ';'), ``named`` the
    project fields it names explicitly (``field:site``, a ``fields`` object: a name the
    project lacks is refused) and ``extra`` its other columns or keys, those named as a
    project field taken as its value. Without ``positions`` (a project that keeps none of
    what comes in) the position is left out. Refusals name the record: ``where``."""
    at = f"{where}: " if where else ""
    description = Description()
    columns = description.columns
    if CAPTURED_AT in values:
        columns["captured_at"] = moment_clean(values[CAPTURED_AT], field=f"{at}{CAPTURED_AT}")
    if positions and (LATITUDE in values or LONGITUDE in values):
        where_gps = f"{at}{POSITION_KEY}"
        position = position_clean(values.get(LATITUDE), values.get(LONGITUDE), field=where_gps)
        columns.update(_columns_of(position))
    _texts(columns, values, at)
    if TAGS in values:
        tags = values[TAGS]
        if isinstance(tags, str):
            tags = [tag for tag in TAG_SEPARATORS.split(tags) if tag.strip()]
        description.tags = catalogue.tags_clean(tags, field=f"{at}{TAGS}")
    for name, value in named.items():
        _field_set(description, fields, name, value, f"{at}field:")
    for name, value in extra.items():
        if name in fields and fields[name].pk not in description.fields:
            _field_set(description, fields, name, value, at)
    return description


def _texts(columns: dict[str, Any], data: Mapping[str, Any], at: str) -> None:
    if ORIGIN in data:
        columns["origin"] = text_clean(data[ORIGIN], field=f"{at}{ORIGIN}", most=ORIGIN_LENGTH)
    if CAMERA in data:
        columns["camera"] = text_clean(data[CAMERA], field=f"{at}{CAMERA}", most=CAMERA_LENGTH)
    if LICENCE in data:
        columns["licence"] = catalogue.licence_clean(data[LICENCE], field=f"{at}{LICENCE}")


def _position_columns(value: Any, where: str) -> dict[str, float | None]:
    if value is None:
        return _columns_of(None)
    if not isinstance(value, Mapping):
        raise ValidationFailed(
            f'{where} must be an object such as {{"latitude": 48.85, "longitude": 2.35}}, or null.',
            field=where,
        )
    unknown = [key for key in value if key not in (LATITUDE, LONGITUDE)]
    if unknown:
        raise ValidationFailed(
            f"{where}.{unknown[0]}: a position has latitude and longitude only.",
            field=f"{where}.{unknown[0]}",
        )
    position = position_clean(value.get(LATITUDE), value.get(LONGITUDE), field=where)
    if position is None:
        raise ValidationFailed(
            f"{where}: give latitude and longitude, or null for no position.", field=where
        )
    return _columns_of(position)


def _columns_of(position: tuple[float, float] | None) -> dict[str, float | None]:
    latitude, longitude = position if position is not None else (None, None)
    return {"gps_latitude": latitude, "gps_longitude": longitude}


def _field_set(
    description: Description,
    fields: Mapping[str, MetadataField],
    name: Any,
    value: Any,
    at: str,
) -> None:
    metadata_field = fields.get(name) if isinstance(name, str) else None
    if metadata_field is None:
        known = ", ".join(sorted(fields)) or "none yet"
        raise ValidationFailed(
            f"{at}{name}: the project has no field named {str(name)[:40]!r} (its fields: {known}).",
            field=f"{at}{name}",
        )
    where = f"{at}{name}"
    cleaned = field_value_clean(metadata_field.kind, metadata_field.choices, value, field=where)
    description.fields[metadata_field.pk] = (metadata_field, cleaned)
