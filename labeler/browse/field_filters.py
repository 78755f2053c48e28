"""Filters on a project's own fields (``labeler.images.catalogue.metadata_fields``):
equality, ranges and text, each value naming its field: ``field=site:north``, ``field_min=age:30``.

The field's name comes first, then a colon, then the value, so one registered filter
serves every field of every project (the page's form, the API schema and the bulk
selections know it as one parameter). Values of one field given several times match any
of them (``field=site:north&field=site:south``); different fields must all match
(``field=site:north&field=device:x7``). Ranges are inclusive, for number and date fields;
``field_contains`` is for text and choice fields. A field the project lacks, a value its
kind cannot hold or a choice it does not offer is a 400 naming the parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan

from labeler.browse.image_filter import ImageFilter
from labeler.browse.values import text_value
from labeler.errors import ValidationFailed
from labeler.images.catalogue.metadata_values import (
    TEXT_LENGTH,
    date_clean,
    field_value_clean,
    number_clean,
    text_form,
)
from labeler.images.catalogue.selectors import project_fields
from labeler.images.models import FieldValue, Image, MetadataField
from labeler.projects.models import Project

Apply = Callable[[QuerySet[Image], list[str], Project], QuerySet[Image]]
RANGED = ("number", "date")
TEXTUAL = ("text", "choice")


def _split(name: str, value: str, fields: dict[str, MetadataField]) -> tuple[MetadataField, str]:
    """The field a value names and the value itself: ``site:north``."""
    field_name, colon, rest = value.partition(":")
    if not colon:
        raise ValidationFailed(
            f"{name}: {value[:60]!r} must be a field's name, a colon and a value, such as "
            "site:north.",
            field=name,
        )
    field = fields.get(field_name.strip())
    if field is None:
        known = ", ".join(sorted(fields)) or "none yet"
        raise ValidationFailed(
            f"{name}: the project has no field named {field_name.strip()[:40]!r} (its "
            f"fields: {known}).",
            field=name,
        )
    return field, rest.strip()


def _values_of(field: MetadataField) -> QuerySet[FieldValue]:
    values = FieldValue.objects.alias(text_upper=Upper("text"))
    return values.filter(image_id=OuterRef("pk"), field=field)


def _equal(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    fields = project_fields(project)
    by_field: dict[int, tuple[MetadataField, Q]] = {}
    for value in values:
        field, raw = _split("field", value, fields)
        if not raw:
            raise ValidationFailed(
                f"field: give {field.name} a value after the colon.", field="field"
            )
        cleaned = field_value_clean(field.kind, field.choices, raw, field="field")
        if field.kind in TEXTUAL:
            # Through the (field, UPPER(text), image) index, which a value few images hold
            # needs. A choice's value is one of its choices, which differ in more than
            # case (metadata_values.choices_clean): equal in any case is equal. A second,
            # exact condition would have PostgreSQL count the same text twice, expect a
            # hundredth of the rows and plan for that. Both sides are upper-cased by the
            # database: Python's upper() differs from it ("ß" is "SS" in Python only).
            assert isinstance(cleaned, str)
            condition = Q(text_upper=Upper(Value(cleaned)))
        else:
            condition = Q(**{field.value_column: cleaned})
        known, found = by_field.get(field.pk, (field, Q()))
        by_field[field.pk] = (known, found | condition)
    for field, condition in by_field.values():
        images = images.filter(Exists(_values_of(field).filter(condition)))
    return images


def _bound(bound: str) -> Apply:
    name = f"field_{bound}"
    lookup = "gte" if bound == "min" else "lte"

    def apply(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
        fields = project_fields(project)
        seen: set[int] = set()
        for value in values:
            field, raw = _split(name, value, fields)
            if field.kind not in RANGED:
                raise ValidationFailed(
                    f"{name}: {field.name} is a {field.kind} field; ranges are for number and "
                    "date fields.",
                    field=name,
                )
            if field.pk in seen:
                raise ValidationFailed(f"{name}: {field.name} is given twice.", field=name)
            seen.add(field.pk)
            limit: float | dt.date | None
            if field.kind == "number":
                limit = number_clean(raw, field=name)
            else:
                limit = date_clean(raw, field=name)
            if limit is None:
                raise ValidationFailed(
                    f"{name}: give {field.name} a value after the colon.", field=name
                )
            condition = Q(**{f"{field.value_column}__{lookup}": limit})
            images = images.filter(Exists(_values_of(field).filter(condition)))
        return images

    return apply


def _contains(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    fields = project_fields(project)
    for value in values:
        field, raw = _split("field_contains", value, fields)
        if field.kind not in TEXTUAL:
            raise ValidationFailed(
                f"field_contains: {field.name} is a {field.kind} field; contains is for text "
                "and choice fields.",
                field="field_contains",
            )
        text = text_form(text_value("field_contains", raw, most=TEXT_LENGTH))
        if not text:
            raise ValidationFailed(
                f"field_contains: give {field.name} some text after the colon.",
                field="field_contains",
            )
        images = images.filter(Exists(_values_of(field).filter(_contains_condition(text))))
    return images


# The shortest text a trigram index serves: a shorter one holds no trigram, and PostgreSQL
# would read the whole index and recheck every row it lists (0.8 s for 200,000 values).
TRIGRAM = 3


def _contains_condition(text: str) -> Q:
    """The value contains ``text`` in any case: through the trigram index (``icontains``)
    when the text is long enough to have a trigram, else as a position in the value,
    which no index serves and PostgreSQL reads through the field's rows."""
    if len(text) >= TRIGRAM:
        return Q(text__icontains=text)
    return Q(GreaterThan(StrIndex(Upper("text"), Upper(Value(text))), 0))


IMAGE_FILTERS = (
    ImageFilter("field", "Field is", "field", _equal, group="fields",
                help="A project field's value, as <field>:<value> (site:north; a number "
                     "field's number, a date field's 2024-05-01, text in any case). "
                     "Repeated: any of one field's values, and every field named."),
    ImageFilter("field_min", "Field from", "field", _bound("min"), group="fields",
                help="A number or date field at least this, as <field>:<value> (age:30)."),
    ImageFilter("field_max", "Field to", "field", _bound("max"), group="fields",
                help="A number or date field at most this, as <field>:<value> "
                     "(visit:2024-12-31)."),
    ImageFilter("field_contains", "Field contains", "field", _contains, group="fields",
                help="A text or choice field containing this text (any case), as "
                     "<field>:<text> (note:blur)."),
)  # fmt: skip
