"""The data browser's near-duplicate filters: ``has_duplicates`` and ``duplicate_group``.

Groups are the images layer's (``labeler.images.duplicates.groups``): an image's
``duplicate_group`` is its group's smallest image id, null when no near-duplicate of it
was found.
"""

from __future__ import annotations

from django.db.models import QuerySet

from labeler.browse.image_filter import ImageFilter
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Project


def _has_duplicates(
    images: QuerySet[Image], values: list[str], project: Project
) -> QuerySet[Image]:
    value = values[-1]
    if value not in ("true", "false"):
        raise ValidationFailed(
            f"has_duplicates: {value!r} is neither true nor false.", field="has_duplicates"
        )
    return images.filter(duplicate_group__isnull=value == "false")


def _duplicate_group(
    images: QuerySet[Image], values: list[str], project: Project
) -> QuerySet[Image]:
    groups = []
    for value in values:
        if not value.isdigit() or len(value) > 18:
            raise ValidationFailed(
                f"duplicate_group: {value!r} is not a group id (an image id).",
                field="duplicate_group",
            )
        groups.append(int(value))
    return images.filter(duplicate_group__in=groups)


HAS_DUPLICATES = ImageFilter(
    "has_duplicates",
    "Has near-duplicates",
    "choice",
    _has_duplicates,
    choices=(("true", "Yes"), ("false", "No")),
    many=False,
    help="true: a resized, re-encoded, cropped or recoloured copy of it is in the project.",
)
DUPLICATE_GROUP = ImageFilter(
    "duplicate_group",
    "Near-duplicate group",
    "integer",
    _duplicate_group,
    help="The images of this near-duplicate group (its id: the group's smallest image id).",
)

IMAGE_FILTERS = (HAS_DUPLICATES, DUPLICATE_GROUP)
