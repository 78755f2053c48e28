"""Writes to annotations: undo, skips, withdrawals, reassignment, completeness and lease
clean-up.

With the submit (``labeler.annotations.submit``, its statements in ``submit_sql``) this
module is the one writer of annotations: every other module that changes one calls here.
Every write that changes an image's labels schedules the refresh that follows
(``changes.labels_changed``) itself; its history is kept by the database trigger (a
submit) or by ``history`` (a withdrawal).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeler.annotations import history
from labeler.annotations.changes import labels_changed
from labeler.annotations.errors import NotHandedOut, QualificationNotSkippable
from labeler.annotations.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    FinalLabelMethod,
    Skip,
)
from labeler.annotations.qualification import queue_gate
from labeler.annotations.queue import (
    lease_release,
    leases_expired_delete,
    leases_lock,
    queue_hold,
)
from labeler.errors import NotFound, ValidationFailed
from labeler.images import queue_state
from labeler.images.models import Image
from labeler.projects import selectors
from labeler.projects.models import Label, Project
from labeler.projects.overlap import overlap_extra_cap

MAX_SKIP_REASON = 500
MAX_ID = 2**63 - 1  # the largest id a row can have


def labels_resolve(*, project: Project, raw_labels: Any) -> list[Label]:
    """Turn label names or ids into the project's labels, enforcing the project's rules.

    The project's own ``Label`` rows, read by the caller, are taken as they are (an
    import resolves its names once, then records thousands of annotations with them);
    any other label is read here."""
    if not isinstance(raw_labels, Sequence) or isinstance(raw_labels, str | bytes):
        raise ValidationFailed("Labels must be a list of label names or ids.", field="labels")
    if not raw_labels:
        raise ValidationFailed(
            "The label list is empty; choose at least one label (or skip the image).",
            field="labels",
        )
    if all(isinstance(raw, Label) and raw.project_id == project.pk for raw in raw_labels):
        project_labels = list(raw_labels)
        raw_labels = [label.pk for label in project_labels]
    else:
        project_labels = selectors.project_labels(project)
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


def images_complete_set(*, project: Project) -> None:
    """Mark each image complete or not again after the project's overlap settings changed.

    Annotators adaptive overlap asked for stay asked for, within the new maximum; none
    are under fixed overlap. Images imported with their final label are done whatever
    the overlap.
    """
    queue_state.images_completeness_set(
        project_id=project.pk,
        overlap=project.overlap,
        extra_cap=overlap_extra_cap(project),
        kept_complete=Q(final_label__method=FinalLabelMethod.IMPORTED),
    )


@transaction.atomic
def annotation_withdraw(*, project: Project, annotator: User, annotation_id: int) -> Image:
    """Take back one's own annotation (undo): the image is open again and leased to them
    through the lease gate (``queue_hold``). What the gate refuses the annotator (their
    standing, the lease cap) refuses the undo, leaving everything as it was; an image the
    gate does not open to them (complete, a problem, kept for others) is left unleased."""
    mine = Annotation.objects.filter(pk=annotation_id, project=project, annotator=annotator)
    missing = NotFound(f"Annotation {annotation_id} does not exist or is not yours.")
    image = _lock_own(project, mine, missing)
    # The lease lock before the image's count changes (and the counters it carries), as
    # the submit takes it: the lock order (docs/architecture.md).
    leases_lock(project_id=project.pk, annotator_id=annotator.pk)
    annotation = mine.first()
    if annotation is None:
        raise missing
    label_ids = list(annotation.labels.values_list("pk", flat=True))
    # Its revisions go with it; the history keeps what it was.
    history.annotations_withdrawn_record(
        project_id=project.pk,
        withdrawn=[history.Withdrawn(annotation.pk, annotation.image_id, annotator.pk, label_ids)],
        changed_by_id=annotator.pk,
    )
    annotation.delete()
    queue_state.image_count_one_less(
        image=image,
        overlap=project.overlap + image.extra_annotations,
        kept_complete=Q(final_label__method=FinalLabelMethod.IMPORTED),
    )
    # Back to the surface it was labelled on: a grid page's undo gets a grid page's lease.
    queue_hold(project=project, image=image, annotator=annotator, grid=annotation.grid)
    labels_changed(project_id=project.pk)
    return image


def annotations_withdraw(
    *,
    project: Project,
    image_ids: Sequence[int],
    annotator_ids: Collection[int] | None,
    withdrawn_by: User,
    priority: float,
) -> int:
    """Send images back for labelling: withdraw these annotators' annotations of them
    (everyone's when None), kept in the history as ``withdrawn_by``'s, and put the images
    open again at ``priority`` in the queue. Returns how many images lost an annotation.

    Runs in the caller's transaction; the image rows are locked (in id order) before their
    annotations are read, as a submit locks its image.
    """
    list(Image.objects.select_for_update().filter(pk__in=image_ids).order_by("pk").values("pk"))
    annotations = Annotation.objects.filter(project=project, image_id__in=image_ids)
    if annotator_ids is not None:
        annotations = annotations.filter(annotator_id__in=annotator_ids)
    labels: dict[int, list[int]] = {}
    for annotation_id, label_id in Annotation.labels.through.objects.filter(
        annotation__in=annotations
    ).values_list("annotation_id", "label_id"):
        labels.setdefault(annotation_id, []).append(label_id)
    rows = list(annotations.values_list("pk", "image_id", "annotator_id"))
    history.annotations_withdrawn_record(
        project_id=project.pk,
        withdrawn=[
            history.Withdrawn(pk, image_id, annotator_id, labels.get(pk, []))
            for pk, image_id, annotator_id in rows
        ],
        changed_by_id=withdrawn_by.pk,
    )
    Annotation.objects.filter(pk__in=[row[0] for row in rows]).delete()
    remaining = (
        Annotation.objects.filter(image_id=OuterRef("pk"))
        .order_by()
        .values("image_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    queue_state.images_reopen(
        image_ids=image_ids, annotation_count=Coalesce(Subquery(remaining), 0), priority=priority
    )
    labels_changed(project_id=project.pk)
    return len({row[1] for row in rows})


def annotations_reassign(*, project: Project, source: User, target: User) -> int:
    """Credit ``source``'s annotations in the project to ``target``, but of images both
    labelled (the caller holds those images' row locks); returns how many moved."""
    mine = Annotation.objects.filter(project=project, annotator=source)
    theirs = Annotation.objects.filter(project=project, annotator=target)
    # QuerySet.update leaves updated_at alone: the annotation keeps its dates.
    return mine.exclude(image_id__in=theirs.values("image_id")).update(annotator=target)


def annotation_backdate(*, annotation_id: int, at: datetime) -> None:
    """Date an annotation, its revisions and its history at ``at`` (the demo's simulated
    labels)."""
    Annotation.objects.filter(pk=annotation_id).update(created_at=at, updated_at=at)
    AnnotationRevision.objects.filter(annotation_id=annotation_id).update(created_at=at)
    history.annotation_history_backdate(annotation_id=annotation_id, at=at)


@transaction.atomic
def skip_create(*, project: Project, annotator: User, image_id: Any, reason: Any = "") -> Skip:
    """Pass on an image, with an optional reason; it leaves the annotator's queue.

    Skipping is for images the queue handed to the annotator (a lease, live or expired)
    and not yet labelled by them (change the label instead): an image picked by id is a
    409, or a skip would be a way round the queue's order. Skipping twice keeps the first
    skip with the latest reason. An annotator taking
    the qualification test skips nothing (the test is decided on all its answers), and
    one whose queue is closed (failed, paused) is refused as the queue refuses them.
    A skip leads to no lease or label by itself: taking it back or labelling the image
    goes through the lease gate (``queue_hold``, ``queue_take``).
    """
    if not isinstance(reason, str):
        raise ValidationFailed("'reason' must be text.", field="reason")
    reason = reason.strip()
    if len(reason) > MAX_SKIP_REASON:
        raise ValidationFailed(
            f"The reason is {len(reason)} characters; at most {MAX_SKIP_REASON}.", field="reason"
        )
    image = _lock_image(project, image_id)
    if queue_gate(project=project, annotator=annotator):
        raise QualificationNotSkippable(
            "You are taking this project's qualification test, which is decided on all "
            "of its answers: its images cannot be skipped. Label each as best you can.",
            field="image",
        )
    if Annotation.objects.filter(image=image, annotator=annotator).exists():
        raise ValidationFailed(
            f"You have labelled image {image.pk} already; change its label instead of skipping.",
            field="image",
        )
    mine = {"image": image, "annotator": annotator}
    if not (Assignment.objects.filter(**mine).exists() or Skip.objects.filter(**mine).exists()):
        raise NotHandedOut(
            f"Image {image.pk} was not handed to you: skip an image the queue gave you.",
            field="image",
        )
    defaults: dict[str, Any] = {"project": project, "reason": reason}
    lease_grid = Assignment.objects.filter(**mine).values_list("grid", flat=True).first()
    if lease_grid is not None:  # skipped twice: the first skip's surface stays
        defaults["grid"] = lease_grid
    skip, _ = Skip.objects.update_or_create(image=image, annotator=annotator, defaults=defaults)
    lease_release(image=image, annotator=annotator)
    return skip


@transaction.atomic
def skip_withdraw(*, project: Project, annotator: User, skip_id: int) -> Image:
    """Take back one's own skip (undo): the image is leased to them again through the
    lease gate (``queue_hold``), as ``annotation_withdraw`` does."""
    mine = Skip.objects.filter(pk=skip_id, project=project, annotator=annotator)
    missing = NotFound(f"Skip {skip_id} does not exist or is not yours.")
    image = _lock_own(project, mine, missing)
    grid = mine.values_list("grid", flat=True).first()
    deleted, _ = mine.delete()
    if not deleted or grid is None:
        raise missing
    # Back to the surface it was skipped on: a grid page's skip gets a grid page's lease.
    queue_hold(project=project, image=image, annotator=annotator, grid=grid)
    return image


def _lock_own(
    project: Project, mine: QuerySet[Annotation] | QuerySet[Skip], missing: NotFound
) -> Image:
    """Lock the image of one's own annotation or skip; returns the image.

    Deleted under the lock: of two undos racing (a double click), the second finds
    nothing left rather than taking the image's count down a second time.
    """
    image_id = mine.values_list("image_id", flat=True).first()
    if image_id is None:
        raise missing
    return _lock_image(project, image_id)


def _lock_image(project: Project, image_id: Any) -> Image:
    """The project's image, row-locked: this serialises its writers (see the queue)."""
    return _locked(project, image_id, Image.objects.all())


def image_id_check(image_id: Any) -> None:
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ValidationFailed("'image' must be an image id.", field="image")


def _locked(project: Project, image_id: Any, images: QuerySet[Image]) -> Image:
    image_id_check(image_id)
    image = images.select_for_update(of=("self",)).filter(pk=image_id).first()
    if image is None or image.project_id != project.pk:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    return image


def assignments_purge_expired() -> int:
    """Delete leases expired longer ago than a late label may come; returns how many went."""
    cutoff = timezone.now() - timedelta(seconds=settings.LABELER_LATE_SUBMIT_SECONDS)
    return leases_expired_delete(before=cutoff)
