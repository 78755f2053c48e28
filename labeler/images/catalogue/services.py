"""What leads say about images: the rules of licences and tags, and the one writer of a
change to images' metadata (capture time, position, origin, camera, licence, tags and the
project's own fields' values), one image or many at once.

A change is read and checked first (``labeler.images.catalogue.descriptions``); what an image's
file says (its EXIF) is recorded when it is stored (``services.image_store``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count

from labeler.errors import Conflict, ValidationFailed
from labeler.images.catalogue.metadata_values import text_clean
from labeler.images.models import FieldValue, Image, ImageTag, MetadataField
from labeler.projects.models import Project

if TYPE_CHECKING:
    from labeler.images.catalogue.descriptions import Description

FieldChange = tuple[MetadataField, Any]  # a field and its value (None: cleared)

TAG_LENGTH = 64  # ImageTag.name's
TAGS_PER_IMAGE = 50
LICENCE_LENGTH = 255  # Image.licence's
IMAGES_PER_CHANGE = 1000
# Letters and digits of any script, then those and a few separators people put in tags
# ("batch-7", "site:north", "night shift", "v1.2", "a/b"), nothing a shell, a URL's query
# or a spreadsheet would read as syntax.
_TAG = re.compile(r"[^\W_][\w .:/+#-]*")
TAG_RULE = "letters, digits, spaces and - _ . : / + # (starting with a letter or a digit)"


def tags_clean(value: Any, *, field: str = "tags") -> list[str]:
    """The tags as stored: each trimmed, inner blanks made single spaces, once each.

    Raises ValidationFailed, naming ``field``, for anything but a list of short tags.
    """
    if not isinstance(value, list | tuple):
        raise ValidationFailed(f'{field} must be a list of tags, such as ["night"].', field=field)
    tags: list[str] = []
    for item in value:
        tag = tag_clean(item, field=field)
        if tag not in tags:
            tags.append(tag)
    if len(tags) > TAGS_PER_IMAGE:
        raise ValidationFailed(
            f"An image takes at most {TAGS_PER_IMAGE} tags, not {len(tags)}.", field=field
        )
    return tags


def tag_clean(value: Any, *, field: str = "tags") -> str:
    """One tag as stored, or ValidationFailed saying what is wrong with it."""
    if not isinstance(value, str):
        raise ValidationFailed(f"Each tag must be text, not {value!r}.", field=field)
    tag = " ".join(value.split())
    if not tag:
        raise ValidationFailed("A tag cannot be empty.", field=field)
    if len(tag) > TAG_LENGTH:
        raise ValidationFailed(
            f"Tag {tag[:20]!r}... is {len(tag)} characters long; at most {TAG_LENGTH}.",
            field=field,
        )
    if not _TAG.fullmatch(tag):
        raise ValidationFailed(f"Tag {tag!r}: use {TAG_RULE}.", field=field)
    return tag


def licence_clean(value: Any, *, field: str = "licence") -> str:
    """A licence as stored: trimmed text ("CC-BY-4.0", a URL) on one line; "" for none
    (null too)."""
    return text_clean(value, field=field, most=LICENCE_LENGTH)


@transaction.atomic
def image_describe(*, image: Image, description: Description) -> Image:
    """Set what ``description`` says of one image (``labeler.images.catalogue.descriptions``): its
    row's columns, its tags (replaced) and its project fields' values, all or none."""
    if description.columns:
        Image.objects.filter(pk=image.pk).update(**description.columns)
        for name, value in description.columns.items():
            setattr(image, name, value)
    if description.tags is not None:
        image.tags.exclude(name__in=description.tags).delete()
        _tags_add([image.pk], description.tags)
    _field_values_write([image.pk], description)
    return image


@transaction.atomic
def images_describe(
    *,
    project: Project,
    image_ids: Iterable[Any],
    licence: str | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    description: Description | None = None,
) -> int:
    """Set the same on many images of the project: ``description`` (its tags, if any,
    replace theirs), the licence, tags added and removed; returns how many.

    Every id must be one of the project's images (ValidationFailed naming those that are
    not), and none may end with more than ``TAGS_PER_IMAGE`` tags.
    """
    ids = _ids_check(project, image_ids)
    added = tags_clean(list(add_tags), field="add_tags")
    removed = tags_clean(list(remove_tags), field="remove_tags")
    both = sorted(set(added) & set(removed))
    if both:
        raise ValidationFailed(f"Tag {both[0]!r} is both added and removed.", field="add_tags")
    columns = dict(description.columns) if description is not None else {}
    if licence is not None:
        columns["licence"] = licence_clean(licence)
    if columns:
        Image.objects.filter(pk__in=ids).update(**columns)
    if description is not None and description.tags is not None:
        ImageTag.objects.filter(image_id__in=ids).exclude(name__in=description.tags).delete()
        _tags_add(ids, description.tags)
    if removed:
        ImageTag.objects.filter(image_id__in=ids, name__in=removed).delete()
    if added:
        _tags_add(ids, added)
        _count_check(ids)
    if description is not None:
        _field_values_write(ids, description)
    return len(ids)


@transaction.atomic
def images_describe_each(
    *, project: Project, changes: Sequence[tuple[Any, Description]], at: str = "items"
) -> int:
    """Set a description of its own on each of many images, all or none; returns how many.

    Each id must be one of the project's images, once (ValidationFailed naming the
    change, ``items[3].image``, otherwise).
    """
    raw = [image_id for image_id, _ in changes]
    ids = _ids_check(project, raw, field=at)
    if len(ids) != len(raw):
        seen: set[Any] = set()
        for number, image_id in enumerate(raw):
            if image_id in seen:
                raise ValidationFailed(
                    f"Image {image_id} is changed twice ({at}[{number}]); give each image once.",
                    field=f"{at}[{number}].image",
                )
            seen.add(image_id)
    # Locked as read: each row is written back whole (bulk_update), so a change another
    # request made to one of its other columns meanwhile would be lost.
    locked = Image.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    images = {image.pk: image for image in locked}
    changed: set[str] = set()
    for image_id, description in changes:
        for name, value in description.columns.items():
            setattr(images[image_id], name, value)
            changed.add(name)
    if changed:
        Image.objects.bulk_update(images.values(), sorted(changed), batch_size=500)
    by_tags: dict[tuple[str, ...], list[int]] = {}
    for image_id, description in changes:
        if description.tags is not None:
            by_tags.setdefault(tuple(description.tags), []).append(image_id)
    for tags, tagged in by_tags.items():
        ImageTag.objects.filter(image_id__in=tagged).exclude(name__in=tags).delete()
        _tags_add(tagged, list(tags))
    _field_values_write_each([(image_id, d.fields) for image_id, d in changes])
    return len(ids)


def _field_values_write(image_ids: list[int], description: Description) -> None:
    """Each project field's value on the images: written where given, removed where null."""
    _field_values_write_each([(image_id, description.fields) for image_id in image_ids])


def _field_values_write_each(changes: Sequence[tuple[int, dict[int, FieldChange]]]) -> None:
    """Per field, one statement writing its values on the images that give one and one
    removing it from those that clear it."""
    by_field: dict[int, tuple[MetadataField, list[tuple[int, Any]]]] = {}
    for image_id, fields in changes:
        for pk, (metadata_field, value) in fields.items():
            by_field.setdefault(pk, (metadata_field, []))[1].append((image_id, value))
    _fields_lock(by_field)
    for metadata_field, values in by_field.values():
        cleared = [image_id for image_id, value in values if value is None]
        if cleared:
            FieldValue.objects.filter(field=metadata_field, image_id__in=cleared).delete()
        column = metadata_field.value_column
        rows = [
            FieldValue(field=metadata_field, image_id=image_id, **{column: value})
            for image_id, value in values
            if value is not None
        ]
        FieldValue.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["field", "image"],
            update_fields=[column],
            batch_size=2000,
        )


def _fields_lock(by_field: dict[int, tuple[MetadataField, list[tuple[int, Any]]]]) -> None:
    """Lock the fields about to be written until the change commits (a removal, or a
    change of choices, waits for it), and refuse the change (Conflict, nothing written)
    where one was removed, or a value's choice taken away, since the values were checked."""
    if not by_field:
        return
    locked = MetadataField.objects.select_for_update().filter(pk__in=by_field).order_by("pk")
    current = {field.pk: field for field in locked}
    for pk, (metadata_field, values) in by_field.items():
        field = current.get(pk)
        if field is None:
            raise Conflict(
                f"Field {metadata_field.name} was removed meanwhile; nothing was changed.",
                field=f"fields.{metadata_field.name}",
            )
        if field.kind != "choice":
            continue
        taken = sorted({v for _, v in values if v is not None and v not in field.choices})
        if taken:
            raise Conflict(
                f"{field.name}: {taken[0]!r} was taken away from its choices meanwhile; "
                "nothing was changed.",
                field=f"fields.{field.name}",
            )


def _ids_check(project: Project, image_ids: Iterable[Any], *, field: str = "images") -> list[int]:
    raw = list(image_ids) if isinstance(image_ids, list | tuple) else None
    if not raw or any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in raw):
        raise ValidationFailed(f"{field} must be a list of image ids.", field=field)
    ids = sorted(set(raw))
    if len(ids) > IMAGES_PER_CHANGE:
        raise ValidationFailed(
            f"At most {IMAGES_PER_CHANGE} images per request, not {len(ids)}.", field=field
        )
    storable = [i for i in ids if i < 2**63]  # larger: no id, and an overflow in the database
    images = Image.objects.filter(project=project, pk__in=storable)
    found = set(images.values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        listed = ", ".join(str(i) for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise ValidationFailed(
            f"Not images of this project: {listed}.", field=field, missing=missing[:100]
        )
    return ids


def _tags_add(image_ids: list[int], names: list[str]) -> None:
    rows = [ImageTag(image_id=pk, name=name) for pk in image_ids for name in names]
    ImageTag.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)


def _count_check(image_ids: list[int]) -> None:
    """Refuse (rolling back) a change that leaves an image with too many tags."""
    crowded = (
        ImageTag.objects.filter(image_id__in=image_ids)
        .values("image_id")
        .annotate(n=Count("id"))
        .filter(n__gt=TAGS_PER_IMAGE)
        .values_list("image_id", flat=True)[:1]
    )
    for image_id in crowded:
        raise ValidationFailed(
            f"Image {image_id} would have more than {TAGS_PER_IMAGE} tags.", field="add_tags"
        )
