"""What leads say about images: their licence and free tags, one image or many at once.

The rest of an image's metadata (capture time, camera, position, source) comes from its
file as it is stored (``services.image_store``) and is not edited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count

from labeler.errors import ValidationFailed
from labeler.images.models import Image, ImageTag
from labeler.projects.models import Project

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
    """A licence as stored: trimmed text ("CC-BY-4.0", a URL), "" for none."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text, not {value!r}.", field=field)
    licence = value.strip()
    if len(licence) > LICENCE_LENGTH:
        raise ValidationFailed(
            f"{field} is {len(licence)} characters long; at most {LICENCE_LENGTH}.", field=field
        )
    if not licence.isprintable():
        raise ValidationFailed(f"{field} holds line breaks or control characters.", field=field)
    return licence


@transaction.atomic
def image_describe(
    *, image: Image, licence: str | None = None, tags: Sequence[str] | None = None
) -> Image:
    """Set an image's licence and replace its tags (None: leave as they are)."""
    if licence is not None:
        image.licence = licence_clean(licence)
        Image.objects.filter(pk=image.pk).update(licence=image.licence)
    if tags is not None:
        wanted = tags_clean(list(tags))
        image.tags.exclude(name__in=wanted).delete()
        _tags_add([image.pk], wanted)
    return image


@transaction.atomic
def images_describe(
    *,
    project: Project,
    image_ids: Iterable[Any],
    licence: str | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
) -> int:
    """Set the licence of many images of the project, add and remove tags; returns how many.

    Every id must be one of the project's images (ValidationFailed naming those that are
    not), and none may end with more than ``TAGS_PER_IMAGE`` tags.
    """
    ids = _ids_check(project, image_ids)
    added = tags_clean(list(add_tags), field="add_tags")
    removed = tags_clean(list(remove_tags), field="remove_tags")
    both = sorted(set(added) & set(removed))
    if both:
        raise ValidationFailed(f"Tag {both[0]!r} is both added and removed.", field="add_tags")
    if licence is not None:
        Image.objects.filter(pk__in=ids).update(licence=licence_clean(licence))
    if removed:
        ImageTag.objects.filter(image_id__in=ids, name__in=removed).delete()
    if added:
        _tags_add(ids, added)
        _count_check(ids)
    return len(ids)


def _ids_check(project: Project, image_ids: Iterable[Any]) -> list[int]:
    raw = list(image_ids) if isinstance(image_ids, list | tuple) else None
    if not raw or any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in raw):
        raise ValidationFailed("images must be a list of image ids.", field="images")
    ids = sorted(set(raw))
    if len(ids) > IMAGES_PER_CHANGE:
        raise ValidationFailed(
            f"At most {IMAGES_PER_CHANGE} images per request, not {len(ids)}.", field="images"
        )
    storable = [i for i in ids if i < 2**63]  # larger: no id, and an overflow in the database
    images = Image.objects.filter(project=project, pk__in=storable)
    found = set(images.values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        listed = ", ".join(str(i) for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise ValidationFailed(
            f"Not images of this project: {listed}.", field="images", missing=missing[:100]
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
