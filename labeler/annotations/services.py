"""Writes to annotations: submitting labels, with history, and lease clean-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labeler.annotations.models import Annotation, AnnotationRevision, Assignment
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Label, Project

MAX_TIME_SPENT_MS = 24 * 3600 * 1000


def labels_resolve(*, project: Project, raw_labels: Any) -> list[Label]:
    """Turn label names or ids into the project's labels, enforcing the project's rules."""
    if not isinstance(raw_labels, Sequence) or isinstance(raw_labels, str | bytes):
        raise ValidationFailed("Labels must be a list of label names or ids.", field="labels")
    if not raw_labels:
        raise ValidationFailed(
            "The label list is empty; choose at least one label (or skip the image).",
            field="labels",
        )
    project_labels = list(project.labels.all())
    by_id = {label.pk: label for label in project_labels}
    by_name = {label.name: label for label in project_labels}
    chosen: list[Label] = []
    for raw in raw_labels:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValidationFailed(f"{raw!r} is not a label name or id.", field="labels")
        label = by_id.get(raw) if isinstance(raw, int) else by_name.get(raw)
        if label is None:
            known = ", ".join(repr(name) for name in by_name)
            raise ValidationFailed(
                f"Unknown label {raw!r}; this project's labels are {known}.", field="labels"
            )
        if label in chosen:
            raise ValidationFailed(f"Label {label.name!r} is given twice.", field="labels")
        chosen.append(label)
    if not project.multi_label and len(chosen) > 1:
        raise ValidationFailed(
            "This is a single-label project: give exactly one label.", field="labels"
        )
    return chosen


@transaction.atomic
def annotation_submit(
    *,
    project: Project,
    annotator: User,
    image_id: Any,
    labels: Any,
    time_spent_ms: int | None = None,
) -> tuple[Annotation, bool]:
    """Create or update the annotator's own labels for an image; returns (annotation, created).

    Resubmitting the same labels changes nothing (safe for retries). Every change is
    kept as a revision, and the image's count and the annotator's lease are updated
    in the same transaction.
    """
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ValidationFailed("'image' must be an image id.", field="image")
    if time_spent_ms is not None and not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise ValidationFailed(
            "time_spent_ms must be between 0 and 86400000.", field="time_spent_ms"
        )
    chosen = labels_resolve(project=project, raw_labels=labels)
    # Locking the image row serialises writers of this image (see queue.queue_next_image).
    image = Image.objects.select_for_update().filter(pk=image_id).first()
    if image is None or image.project_id != project.pk:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    label_ids = sorted(label.pk for label in chosen)
    annotation = Annotation.objects.filter(image=image, annotator=annotator).first()
    created = annotation is None
    if annotation is None:
        annotation = Annotation.objects.create(
            project=project, image=image, annotator=annotator, time_spent_ms=time_spent_ms
        )
        annotation.labels.set(chosen)
        image.annotation_count = F("annotation_count") + 1
        image.save(update_fields=["annotation_count"])
        Image.objects.filter(pk=image.pk, annotation_count__gte=project.overlap).update(
            is_complete=True
        )
    else:
        current = sorted(annotation.labels.values_list("pk", flat=True))
        if current == label_ids:
            return annotation, False
        annotation.labels.set(chosen)
        if time_spent_ms is not None:
            annotation.time_spent_ms = (annotation.time_spent_ms or 0) + time_spent_ms
        annotation.save(update_fields=["time_spent_ms", "updated_at"])
    AnnotationRevision.objects.create(
        annotation=annotation, label_ids=label_ids, time_spent_ms=time_spent_ms
    )
    Assignment.objects.filter(image=image, annotator=annotator).delete()
    return annotation, created


def assignments_purge_expired() -> int:
    """Delete expired leases; returns how many went."""
    deleted, _ = Assignment.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
