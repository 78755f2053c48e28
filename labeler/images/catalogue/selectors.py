"""Reads of images' metadata: the fields a project's images have, and their values.

``metadata_fields`` lists every field, built-in and the project's own, with its kind;
``image_field_values`` gives one field's value on every image that has one. Both read
the project's images as they are, for anyone who groups images by what is said of them
(a page of slices, a report per camera or site). Where a photo was taken is a lead's to
see: callers that show ``position`` to others must not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from labeler.errors import NotFound
from labeler.images.catalogue.metadata_keys import FIELD_PREFIX
from labeler.images.models import SOURCES, FieldValue, Image, ImageTag, MetadataField
from labeler.projects.models import Project

POSITION = "position"
SOURCE = "source"


@dataclass(frozen=True)
class FieldInfo:
    """One field of a project's images.

    ``key`` names it to ``image_field_values``: a built-in name (``captured_at``,
    ``origin``, ``camera``, ``licence``, ``tags``, ``source``, ``position``) or
    ``field:<name>`` for the project's own. ``kind`` says what its values are: datetime
    (aware, UTC), date, number, text, choice (one of ``choices``), tags (a tuple of
    texts, an image may have several) or position (latitude, longitude).
    """

    key: str
    label: str
    kind: str
    built_in: bool
    choices: tuple[str, ...] = ()
    field_id: int | None = None


BUILT_IN_FIELDS = (
    FieldInfo("captured_at", "Capture time", "datetime", True),
    FieldInfo("origin", "Origin", "text", True),
    FieldInfo("camera", "Camera", "text", True),
    FieldInfo("licence", "Licence", "text", True),
    FieldInfo("tags", "Tags", "tags", True),
    FieldInfo(SOURCE, "Source", "choice", True, tuple(name for name, _ in SOURCES)),
    FieldInfo(POSITION, "Position", "position", True),
)
# The built-in fields that are a column of the image's row.
_COLUMNS = {key: key for key in ("captured_at", "origin", "camera", "licence", SOURCE)}


def project_fields(project: Project) -> dict[str, MetadataField]:
    """The project's own fields by name."""
    return {field.name: field for field in MetadataField.objects.filter(project=project)}


def metadata_fields(project: Project) -> list[FieldInfo]:
    """Every field of the project's images: the built-in ones, then its own by name."""
    own = [
        FieldInfo(
            f"{FIELD_PREFIX}{field.name}",
            field.name,
            field.kind,
            False,
            tuple(field.choices),
            field.pk,
        )
        for field in MetadataField.objects.filter(project=project).order_by("name")
    ]
    return [*BUILT_IN_FIELDS, *own]


def fields_counted(project: Project) -> QuerySet[MetadataField]:
    """The project's own fields by name, each with ``image_count``: the images that have
    a value of it (the fields' page and their REST list)."""
    fields = MetadataField.objects.filter(project=project)
    return fields.annotate(image_count=Count("values")).order_by("name")


def metadata_field_get(project: Project, field_id: int) -> MetadataField:
    """One of the project's fields, or NotFound."""
    found = MetadataField.objects.filter(project=project, pk=field_id).first()
    if found is None:
        raise NotFound(f"Field {field_id} is not a field of this project.")
    return found


def image_field_values(project: Project, field: str | FieldInfo) -> dict[int, Any]:
    """``{image id: value}`` of one field (a ``FieldInfo`` or its key) on the project's
    images that have a value: blank text, no capture time, no position and no tags are
    left out. Values are as ``FieldInfo.kind`` says."""
    key = field.key if isinstance(field, FieldInfo) else field
    return dict(_values(project, key))


def _values(project: Project, key: str) -> Iterator[tuple[int, Any]]:
    images = Image.objects.filter(project=project).order_by()
    if key in _COLUMNS:
        column = _COLUMNS[key]
        rows = images.exclude(**{column: ""}) if column != "captured_at" else images
        yield from rows.filter(**{f"{column}__isnull": False}).values_list("pk", column).iterator()
    elif key == POSITION:
        located = images.filter(gps_latitude__isnull=False, gps_longitude__isnull=False)
        for pk, lat, lon in located.values_list("pk", "gps_latitude", "gps_longitude").iterator():
            yield pk, (lat, lon)
    elif key == "tags":
        tags = ImageTag.objects.filter(image__project=project).order_by("image_id", "name")
        current: tuple[int, list[str]] | None = None
        for image_id, name in tags.values_list("image_id", "name").iterator():
            if current is not None and current[0] != image_id:
                yield current[0], tuple(current[1])
                current = None
            if current is None:
                current = (image_id, [])
            current[1].append(name)
        if current is not None:
            yield current[0], tuple(current[1])
    elif key.startswith(FIELD_PREFIX):
        yield from _own_values(project, key[len(FIELD_PREFIX) :])
    else:
        raise NotFound(f"{key!r} is not a field of this project's images.")


def _own_values(project: Project, name: str) -> Iterator[tuple[int, Any]]:
    field = MetadataField.objects.filter(project=project, name=name).first()
    if field is None:
        raise NotFound(f"The project has no field named {name!r}.")
    values = FieldValue.objects.filter(field=field).order_by()
    rows = values.values_list("image_id", field.value_column)
    for image_id, value in rows.iterator():
        if value is not None:
            yield image_id, value


def image_fields_of(image: Image) -> dict[str, str | float | dt.date]:
    """The project fields' values of one image, by field name, in name order."""
    rows = FieldValue.objects.filter(image=image).select_related("field").order_by("field__name")
    return {row.field.name: value for row in rows if (value := row.value) is not None}
