"""Reads about annotation work: progress of a project and of one annotator, their history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from labeler.annotations.models import Annotation, Assignment, Skip
from labeler.images.counts import ImageCounts, image_counts
from labeler.projects.models import Project

HISTORY_LIMIT = 200
LABEL_USE_RECENT = 2000  # the annotations label_use counts, a person's latest


@dataclass(frozen=True)
class ProjectProgress:
    """Where a project stands: images complete (labelled to overlap), in progress, skipped."""

    images: int
    complete: int
    in_progress: int
    not_started: int
    skipped: int
    annotations: int


@dataclass(frozen=True)
class AnnotatorProgress:
    """One annotator's work in a project and what is still open to them."""

    labelled: int
    skipped: int
    remaining: int


@dataclass(frozen=True)
class HistoryItem:
    """An image the annotator labelled or skipped, newest first."""

    kind: str  # "annotation" or "skip"
    id: int
    image_id: int
    image_name: str
    file_name: str  # the stored file's name
    display_name: str  # the display copy's, or the file's when it has none
    width: int
    height: int
    label_ids: list[int]
    reason: str
    at: datetime


def project_progress(project: Project, counts: ImageCounts | None = None) -> ProjectProgress:
    """Counts of the project's images by state; an image counts once, by its furthest state.

    In progress: not complete, with at least one annotation or a live lease. Skipped:
    not complete, skipped by someone (it may also be in progress). Image counts come from
    the counters the database keeps; only leases and skips, few by nature, are counted.
    """
    counts = counts or image_counts(project.pk)
    open_images = {"image__is_complete": False}
    # Open images with no label yet that someone holds now (the rest of in progress).
    held = (
        Assignment.objects.filter(
            project=project, expires_at__gt=timezone.now(), image__annotation_count=0, **open_images
        )
        .values("image")
        .distinct()
        .count()
    )
    in_progress = counts.started + held
    return ProjectProgress(
        images=counts.images,
        complete=counts.complete,
        in_progress=in_progress,
        not_started=counts.images - counts.complete - in_progress,
        skipped=Skip.objects.filter(project=project, **open_images)
        .values("image")
        .distinct()
        .count(),
        annotations=counts.annotations,
    )


def annotator_progress(
    *, project: Project, annotator: User, counts: ImageCounts | None = None
) -> AnnotatorProgress:
    """What the annotator did and how many open images they have neither labelled nor skipped.

    ``remaining`` is an upper bound: others may fill some of those images first. It costs
    in proportion to the annotator's own work, not to the project's size.
    """
    counts = counts or image_counts(project.pk)
    still_open = Q(image__is_complete=False)
    labelled = Annotation.objects.filter(project=project, annotator=annotator).aggregate(
        total=Count("pk"), open=Count("pk", filter=still_open)
    )
    skipped = Skip.objects.filter(project=project, annotator=annotator).aggregate(
        total=Count("pk"), open=Count("pk", filter=still_open)
    )
    return AnnotatorProgress(
        labelled=labelled["total"],
        skipped=skipped["total"],
        remaining=counts.images - counts.complete - labelled["open"] - skipped["open"],
    )


def annotator_history(
    *, project: Project, annotator: User, limit: int = HISTORY_LIMIT
) -> list[HistoryItem]:
    """The annotator's own labelled and skipped images, most recent first."""
    annotations = (
        Annotation.objects.filter(project=project, annotator=annotator)
        .order_by("-updated_at", "-id")
        .select_related("image")
        .prefetch_related("labels")[:limit]
    )
    skips = (
        Skip.objects.filter(project=project, annotator=annotator)
        .order_by("-created_at")
        .select_related("image")[:limit]
    )
    items = [
        _history_item(a, sorted(label.pk for label in a.labels.all()), "", a.updated_at)
        for a in annotations
    ] + [_history_item(s, [], s.reason, s.created_at) for s in skips]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def _history_item(
    row: Annotation | Skip, label_ids: list[int], reason: str, at: datetime
) -> HistoryItem:
    image = row.image
    return HistoryItem(
        kind="annotation" if isinstance(row, Annotation) else "skip",
        id=row.pk,
        image_id=image.pk,
        image_name=image.original_name,
        file_name=image.file.name or "",
        display_name=(image.display or image.file).name or "",
        width=image.width,
        height=image.height,
        label_ids=label_ids,
        reason=reason,
        at=at,
    )


def annotation_counts_by_annotator(project: Project) -> dict[int, int]:
    """How many annotations each annotator gave in the project, by user id."""
    return dict(
        Annotation.objects.filter(project=project)
        .values("annotator")
        .annotate(n=Count("pk"))
        .values_list("annotator", "n")
    )


def annotator_usernames(project: Project) -> list[str]:
    """The usernames of everyone who gave an annotation in the project, in order."""
    return list(
        Annotation.objects.filter(project=project)
        .order_by("annotator__username")
        .values_list("annotator__username", flat=True)
        .distinct()
    )


def label_use(*, project: Project, user_id: int) -> list[int]:
    """The ids of the labels this person gave in their latest annotations of the project
    (``LABEL_USE_RECENT``), most used first (ties in label order): the label pickers show
    the first few first.

    One grouped count over the link rows of those annotations: the latest are read
    newest first from the (project, annotator, id) index, so the cost stays the same
    however many annotations the person has (measured on PostgreSQL: 10 ms among 1M
    annotations, 100,000 of them the person's; counting them all took 540 ms), and the
    order follows what the person labels now.
    """
    latest = (
        Annotation.objects.filter(project=project, annotator_id=user_id)
        .order_by("-id")
        .values("id")[:LABEL_USE_RECENT]
    )
    links = Annotation.labels.through.objects.filter(annotation_id__in=latest)
    return list(
        links.values("label_id")
        .annotate(uses=Count("pk"))
        .order_by("-uses", "label__position", "label_id")
        .values_list("label_id", flat=True)
    )
