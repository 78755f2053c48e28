"""Writes to annotations: submitting labels, with history, and lease clean-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from labeler.annotations import history, submit_sql
from labeler.annotations.adaptive import adaptive_decision
from labeler.annotations.errors import ImageFull, NotHandedOut, QualificationNotSkippable
from labeler.annotations.models import (
    Annotation,
    Assignment,
    FinalLabel,
    FinalLabelMethod,
    Skip,
)
from labeler.annotations.qualification import queue_gate
from labeler.annotations.queue import queue_admit, queue_hold, queue_take
from labeler.annotations.reliability import annotator_accuracies, image_votes
from labeler.errors import NotFound, ValidationFailed
from labeler.images.models import Image
from labeler.projects import selectors
from labeler.projects.models import Label, Project
from labeler.projects.overlap import overlap_extra_cap

MAX_TIME_SPENT_MS = 24 * 3600 * 1000
MAX_SKIP_REASON = 500
MAX_ID = 2**63 - 1  # the largest id a row can have


def labels_resolve(*, project: Project, raw_labels: Any) -> list[Label]:
    """Turn label names or ids into the project's labels, enforcing the project's rules."""
    if not isinstance(raw_labels, Sequence) or isinstance(raw_labels, str | bytes):
        raise ValidationFailed("Labels must be a list of label names or ids.", field="labels")
    if not raw_labels:
        raise ValidationFailed(
            "The label list is empty; choose at least one label (or skip the image).",
            field="labels",
        )
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


class LabelsWritten(NamedTuple):
    """What a label write did: the annotation, whether it is new, and whether the image's
    labels changed (a resubmit of the same labels changes nothing)."""

    annotation: Annotation
    created: bool
    changed: bool


def annotation_submit(
    *,
    project: Project,
    annotator: User,
    image_id: Any,
    labels: Any,
    time_spent_ms: int | None = None,
) -> LabelsWritten:
    """Create or update the annotator's own labels for an image.

    A new label is taken only where the queue allows it: for an image leased to the
    annotator (or one they skipped), while it has room under the project's overlap
    (gold images, which every annotator gets, aside); a lease that expired still lets a
    late label in if no one took its place. Anything else is a conflict that says why.
    Whether a suggestion was shown, and accepted, comes from what the lease handed out.

    Resubmitting the same labels changes nothing (safe for retries). Every change is
    kept as a revision, and the image's count and the annotator's lease are updated
    in the same transaction. Labelling an image one had skipped takes the skip back.
    """
    return _annotation_write(project, annotator, image_id, labels, time_spent_ms, queued=True)


def annotation_record(
    *,
    project: Project,
    annotator: User,
    image_id: Any,
    labels: Any,
    time_spent_ms: int | None = None,
) -> LabelsWritten:
    """Record labels given outside the queue (an imported dataset's annotators, the demo's
    simulated ones), as ``annotation_submit`` does but without the queue's rules."""
    return _annotation_write(project, annotator, image_id, labels, time_spent_ms, queued=False)


@transaction.atomic
def _annotation_write(
    project: Project,
    annotator: User,
    image_id: Any,
    labels: Any,
    time_spent_ms: int | None,
    *,
    queued: bool,
) -> LabelsWritten:
    _check_time_spent(time_spent_ms)
    chosen = labels_resolve(project=project, raw_labels=labels)
    now = timezone.now()
    held = _lock_image_held(project, image_id, annotator, now)
    label_ids = sorted(label.pk for label in chosen)
    shown = held.suggested_by is not None
    accepted = shown and held.suggested_label_ids == label_ids
    annotation_id = held.annotation_id
    if annotation_id is None and queued:
        held = _check_room(project, held, image_id, annotator, now)
    if annotation_id is None:
        annotation_id = submit_sql.annotation_create(
            project_id=project.pk,
            image_id=image_id,
            annotator_id=annotator.pk,
            label_ids=label_ids,
            time_spent_ms=time_spent_ms,
            suggested_by=held.suggested_by,
            accepted=accepted,
            shown=shown,
            withheld=held.suggestion_withheld,
            overlap=project.overlap + held.extra_annotations,
            now=now,
            held=held,
        )
        if annotation_id is not None:
            _adaptive_step(project, image_id, held)
            annotation = Annotation(
                pk=annotation_id,
                project=project,
                image_id=image_id,
                annotator=annotator,
                time_spent_ms=time_spent_ms,
                suggested_by_id=held.suggested_by,
                suggestion_accepted=accepted,
                suggestion_shown=shown,
                suggestion_withheld=held.suggestion_withheld,
                created_at=now,
                updated_at=now,
            )
            return _submitted(annotation, chosen, created=True)
        # The same submit, sent again before the first answered (a client's retry), wrote
        # the annotation after this one's snapshot and before its lock: read what it holds.
        held = _lock_image_held(project, image_id, annotator, now)
        assert held.annotation_id is not None
        annotation_id = held.annotation_id
    annotation = Annotation.objects.get(pk=annotation_id)
    current = sorted(annotation.labels.values_list("pk", flat=True))
    if current == label_ids:
        return LabelsWritten(annotation, created=False, changed=False)
    annotation.labels.set(chosen)
    if time_spent_ms is not None:
        annotation.time_spent_ms = (annotation.time_spent_ms or 0) + time_spent_ms
    # An edited label is the annotator's own call, whatever was suggested before, unless
    # the image came back to them from the queue with a suggestion (after an undo).
    if shown:
        annotation.suggested_by_id = held.suggested_by
        annotation.suggestion_shown = True
    annotation.suggestion_accepted = accepted
    fields = ["time_spent_ms", "suggested_by", "suggestion_shown", "suggestion_accepted"]
    annotation.save(update_fields=[*fields, "updated_at"])
    submit_sql.revision_insert(
        annotation_id=annotation.pk, label_ids=label_ids, time_spent_ms=time_spent_ms, now=now
    )
    submit_sql.held_release(
        image_id=image_id, annotator_id=annotator.pk, lease=held.lease, skip=held.skip
    )
    return _submitted(annotation, chosen, created=False)


def _check_room(
    project: Project, held: submit_sql.Held, image_id: int, annotator: User, now: datetime
) -> submit_sql.Held:
    """Refuse a new label the queue did not hand out, or one the lease gate would refuse;
    returns what the annotator holds on the image once it is theirs.

    A live lease passed the gate when it was written: the slot is the annotator's (only a
    lowered overlap can take it), and only their own standing is checked again. An
    expired lease or a skip holds no slot: the label takes one through the gate, as a
    new lease would (``queue_take``), the skip taken back first as the label takes it.
    """
    if not (held.lease or held.skip):
        raise NotHandedOut(
            f"Image {image_id} was not handed to you by the queue: label the images that "
            "next/ gives you.",
            field="image",
        )
    if not held.lease_live:
        if held.skip:
            submit_sql.held_release(
                image_id=image_id, annotator_id=annotator.pk, lease=False, skip=True
            )
        queue_take(project=project, image_id=image_id, annotator=annotator, late=held.lease)
        return replace(held, lease=True, lease_live=True, skip=False)
    queue_admit(project=project, annotator=annotator, gold=held.gold)
    needed = project.overlap + held.extra_annotations
    if not held.gold and held.annotation_count >= needed:
        raise ImageFull(
            f"Image {image_id} has all the labels it needs ({needed}): the project's overlap "
            "was lowered. Nothing was saved for it.",
            field="image",
        )
    return held


def _adaptive_step(project: Project, image_id: int, held: submit_sql.Held) -> None:
    """Under adaptive overlap, ask for one more annotator of the image when the labels it
    has now, this new one counted, leave doubt (``labeler.annotations.adaptive``).

    Only the submit that gives the image the labels it asked for decides, and it holds
    the image's row lock, as the queue does when it counts the image's slots: no image
    is handed to more annotators than it asks for. Gold images are decided already.
    """
    cap = overlap_extra_cap(project)
    needed = project.overlap + held.extra_annotations
    if held.gold or held.extra_annotations >= cap or held.annotation_count + 1 < needed:
        return
    votes = image_votes(image_id)
    accuracies = annotator_accuracies(project.pk, [annotator_id for annotator_id, _ in votes])
    n_labels = len(selectors.project_labels(project))
    decision = adaptive_decision(
        [(labels, accuracies[annotator_id]) for annotator_id, labels in votes],
        k=min(2**n_labels - 1, 1000) if project.multi_label else n_labels,
        threshold=project.adaptive_confidence,
        needed=needed,
        maximum=project.overlap + cap,
    )
    if decision.more:
        submit_sql.extra_annotations_set(image_id=image_id, extra=held.extra_annotations + 1)


def _submitted(annotation: Annotation, chosen: list[Label], *, created: bool) -> LabelsWritten:
    # The labels as submitted, for the answer (see AnnotationSerializer).
    annotation.submitted_labels = chosen  # type: ignore[attr-defined]
    return LabelsWritten(annotation, created=created, changed=True)


def images_complete_set(*, project: Project) -> None:
    """Mark each image complete or not again after the project's overlap settings changed.

    Annotators adaptive overlap asked for stay asked for, within the new maximum; none
    are under fixed overlap. Images imported with their final label are done whatever
    the overlap.
    """
    images = Image.objects.filter(project=project)
    cap = overlap_extra_cap(project)
    images.filter(extra_annotations__gt=cap).update(extra_annotations=cap)
    needed = F("extra_annotations") + project.overlap
    images.filter(annotation_count__gte=needed).update(is_complete=True)
    images.filter(annotation_count__lt=needed).exclude(
        final_label__method=FinalLabelMethod.IMPORTED
    ).update(is_complete=False)


@transaction.atomic
def annotation_withdraw(*, project: Project, annotator: User, annotation_id: int) -> Image:
    """Take back one's own annotation (undo): the image is open again and leased to them
    through the lease gate (``queue_hold``). What the gate refuses the annotator (their
    standing, the lease cap) refuses the undo, leaving everything as it was; an image the
    gate does not open to them (complete, a problem, kept for others) is left unleased."""
    mine = Annotation.objects.filter(pk=annotation_id, project=project, annotator=annotator)
    missing = NotFound(f"Annotation {annotation_id} does not exist or is not yours.")
    image = _lock_own(project, mine, missing)
    annotation = mine.first()
    if annotation is None:
        raise missing
    label_ids = list(annotation.labels.values_list("pk", flat=True))
    # Its revisions go with it; the history keeps what it was.
    history.annotation_withdrawn_record(annotation=annotation, label_ids=label_ids)
    annotation.delete()
    image.annotation_count = F("annotation_count") - 1
    image.save(update_fields=["annotation_count"])
    image.refresh_from_db(fields=["annotation_count"])
    imported = FinalLabel.objects.filter(image=image, method=FinalLabelMethod.IMPORTED)
    needed = project.overlap + image.extra_annotations
    if image.is_complete and image.annotation_count < needed and not imported.exists():
        image.is_complete = False
        image.save(update_fields=["is_complete"])
    queue_hold(project=project, image=image, annotator=annotator)
    return image


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
    skip, _ = Skip.objects.update_or_create(
        image=image, annotator=annotator, defaults={"project": project, "reason": reason}
    )
    Assignment.objects.filter(image=image, annotator=annotator).delete()
    return skip


@transaction.atomic
def skip_withdraw(*, project: Project, annotator: User, skip_id: int) -> Image:
    """Take back one's own skip (undo): the image is leased to them again through the
    lease gate (``queue_hold``), as ``annotation_withdraw`` does."""
    image = _delete_locked(
        project,
        Skip.objects.filter(pk=skip_id, project=project, annotator=annotator),
        NotFound(f"Skip {skip_id} does not exist or is not yours."),
    )
    queue_hold(project=project, image=image, annotator=annotator)
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


def _delete_locked(
    project: Project, mine: QuerySet[Annotation] | QuerySet[Skip], missing: NotFound
) -> Image:
    """Delete one's own annotation or skip under its image's lock; returns the image."""
    image = _lock_own(project, mine, missing)
    deleted, _ = mine.delete()
    if not deleted:
        raise missing
    return image


def _check_time_spent(time_spent_ms: int | None) -> None:
    if time_spent_ms is not None and not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise ValidationFailed(
            "time_spent_ms must be between 0 and 86400000.", field="time_spent_ms"
        )


def _lock_image(project: Project, image_id: Any) -> Image:
    """The project's image, row-locked: this serialises its writers (see the queue)."""
    return _locked(project, image_id, Image.objects.all())


def _lock_image_held(
    project: Project, image_id: Any, annotator: User, now: datetime
) -> submit_sql.Held:
    """Lock the project's image (as ``_lock_image``) and read what the annotator holds on it.

    One statement: submitting needs no separate reads of the annotator's rows.
    """
    _check_image_id(image_id)
    held = (
        submit_sql.image_lock_held(image_id, annotator.pk, now) if 0 < image_id <= MAX_ID else None
    )
    if held is None or held.project_id != project.pk:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    return held


def _check_image_id(image_id: Any) -> None:
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ValidationFailed("'image' must be an image id.", field="image")


def _locked(project: Project, image_id: Any, images: QuerySet[Image]) -> Image:
    _check_image_id(image_id)
    image = images.select_for_update(of=("self",)).filter(pk=image_id).first()
    if image is None or image.project_id != project.pk:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    return image


def assignments_purge_expired() -> int:
    """Delete leases expired longer ago than a late label may come; returns how many went."""
    cutoff = timezone.now() - timedelta(seconds=settings.LABELER_LATE_SUBMIT_SECONDS)
    deleted, _ = Assignment.objects.filter(expires_at__lte=cutoff).delete()
    return deleted
