"""A project's image counts: read from the counters the database keeps (see ImageCounter),
or counted from the image rows where an exact figure is wanted."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from labeler.images.models import Image, ImageCounter


@dataclass(frozen=True)
class ImageCounts:
    images: int
    complete: int
    started: int  # not complete, with at least one annotation
    annotations: int


def image_counts(project_id: int) -> ImageCounts:
    """The project's counts in one query over at most ``ImageCounter.SHARDS`` rows."""
    sums = ImageCounter.objects.filter(project_id=project_id).aggregate(
        images=Sum("images"),
        complete=Sum("complete"),
        started=Sum("started"),
        annotations=Sum("annotations"),
    )
    return ImageCounts(**{name: int(value or 0) for name, value in sums.items()})


def image_count_exact(project_id: int) -> int:
    """How many images the project holds, counted from the image rows themselves."""
    return Image.objects.filter(project_id=project_id).count()
