"""A project's own metadata fields: declared, renamed, their choices changed and removed by
its leads.

A field has a name (``FIELD_NAME``), a kind (text, number, date, choice) and, for a choice
field, its choices. Its values are ``FieldValue`` rows, written by
``labeler.images.catalogue.services``; removing a field removes them.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet

from labeler.errors import Conflict, ValidationFailed
from labeler.images.catalogue.metadata_keys import FIELD_NAME, FIELD_NAME_RULE, RESERVED_NAMES
from labeler.images.catalogue.metadata_values import choices_clean
from labeler.images.models import FIELD_KINDS, FieldValue, MetadataField
from labeler.projects.models import Project

FIELDS_PER_PROJECT = 50
KINDS = [kind for kind, _ in FIELD_KINDS]


def field_name_clean(value: Any, *, field: str = "name") -> str:
    """A field's name as stored, or ValidationFailed saying what is wrong with it."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text, not {value!r:.40}.", field=field)
    name = value.strip()
    if not FIELD_NAME.fullmatch(name):
        raise ValidationFailed(
            f"{field}: {name[:50]!r} is no field name; use {FIELD_NAME_RULE}.", field=field
        )
    if name in RESERVED_NAMES:
        raise ValidationFailed(
            f"{field}: {name!r} is the name of a built-in field or an import column; choose "
            "another.",
            field=field,
        )
    return name


@transaction.atomic
def field_create(*, project: Project, name: Any, kind: Any, choices: Any = None) -> MetadataField:
    """Declare a field of the project's images; a choice field needs its choices."""
    name = field_name_clean(name)
    if kind not in KINDS:
        raise ValidationFailed(
            f"kind must be one of {', '.join(KINDS)}, not {kind!r:.40}.", field="kind"
        )
    if kind == "choice":
        cleaned = choices_clean(choices)
    elif choices not in (None, []):
        raise ValidationFailed("Only a choice field has choices.", field="choices")
    else:
        cleaned = []
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one count at a time
    if MetadataField.objects.filter(project=project).count() >= FIELDS_PER_PROJECT:
        raise ValidationFailed(
            f"A project has at most {FIELDS_PER_PROJECT} fields; remove one first.", field="name"
        )
    _name_free(project, name)
    try:
        with transaction.atomic():
            return MetadataField.objects.create(
                project=project, name=name, kind=kind, choices=cleaned
            )
    except IntegrityError:  # declared by someone else at the same moment
        raise Conflict(f"The project has a field named {name!r} already.", field="name") from None


@transaction.atomic
def field_update(*, field: MetadataField, name: Any = None, choices: Any = None) -> MetadataField:
    """Rename a field, or change a choice field's choices (None: unchanged). A choice that
    images hold cannot be taken away: their values would no longer be one of them."""
    locked = MetadataField.objects.select_for_update().get(pk=field.pk)
    if name is not None:
        new_name = field_name_clean(name)
        if new_name != locked.name:
            _name_free(locked.project, new_name)
            locked.name = new_name
    if choices is not None:
        if locked.kind != "choice":
            raise ValidationFailed(
                f"{locked.name} is a {locked.kind} field: it has no choices.", field="choices"
            )
        cleaned = choices_clean(choices)
        dropped = [choice for choice in locked.choices if choice not in cleaned]
        held = FieldValue.objects.filter(field=locked, text__in=dropped)
        held_by = dict(_value_counts(held))
        if held_by:
            choice, count = next(iter(held_by.items()))
            raise ValidationFailed(
                f"choices: {choice!r} is the value of {count} image{'s' * (count != 1)}; "
                "change theirs before taking it away.",
                field="choices",
            )
        locked.choices = cleaned
    try:
        with transaction.atomic():
            locked.save(update_fields=["name", "choices"])
    except IntegrityError:
        raise Conflict(
            f"The project has a field named {locked.name!r} already.", field="name"
        ) from None
    return locked


def field_delete(*, field: MetadataField) -> int:
    """Remove a field and every image's value of it; returns how many values went.

    The field is locked first: a change of images' values being written waits for it,
    or is written first and its values go too (``catalogue`` locks the fields it writes).
    """
    with transaction.atomic():
        locked = MetadataField.objects.select_for_update().filter(pk=field.pk).first()
        if locked is None:
            return 0  # removed by someone else meanwhile
        values, _ = FieldValue.objects.filter(field=locked).delete()
        locked.delete()
    return values


def _name_free(project: Project, name: str) -> None:
    if MetadataField.objects.filter(project=project, name=name).exists():
        raise Conflict(f"The project has a field named {name!r} already.", field="name")


def _value_counts(values: QuerySet[FieldValue]) -> list[tuple[str | None, int]]:
    rows = values.values("text").annotate(n=Count("id")).order_by("-n")
    return [(row["text"], row["n"]) for row in rows]
