"""The label submit, one way down: check, lock and read, decide, write.

``annotation_submit`` (through the queue) and ``annotation_record`` (outside it) check
what was sent, lock the image and read what the annotator holds on it in one statement,
decide what the queue allows, and write. This module is the one caller of ``submit_sql``
(a leaf: statements only), and every statement runs from ``_annotation_write``, in the
order the submit takes them; the helpers decide and return what to write. An import's
new annotations of people who have none on their image may instead be written together,
each checked as ``annotation_record`` checks it (``annotation_new_checked``), by
``annotations_record_new``: one statement for the lot.

A write that changes the image's labels schedules the refresh that follows
(``changes.labels_changed``); the database trigger keeps its history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from labeler.annotations import submit_sql
from labeler.annotations.adaptive import adaptive_decision
from labeler.annotations.changes import labels_changed
from labeler.annotations.errors import ImageFull, NotHandedOut
from labeler.annotations.models import Annotation
from labeler.annotations.queue import queue_admit, queue_take
from labeler.annotations.reliability import annotator_accuracies, image_votes
from labeler.annotations.services import MAX_ID, image_id_check, labels_resolve
from labeler.errors import ValidationFailed
from labeler.images import queue_state
from labeler.projects import selectors
from labeler.projects.models import Label, Project
from labeler.projects.overlap import overlap_extra_cap

MAX_TIME_SPENT_MS = 24 * 3600 * 1000


class LabelsWritten(NamedTuple):
    """What a label write did: the annotation, whether it is new, and whether the image's
    labels changed (a resubmit of the same labels changes nothing)."""

    annotation: Annotation
    created: bool
    changed: bool


@transaction.atomic
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
    Whether a suggestion was shown, and accepted, comes from what the lease handed out,
    as does whether the label was given on a grid page.

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
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> LabelsWritten:
    """Record labels given outside the queue (an imported dataset's annotators, the demo's
    simulated ones), as ``annotation_submit`` does but without the queue's rules.

    ``created_at`` and ``updated_at``, when given, are when the labels were made where
    they come from (an imported annotation keeps its dates); ``time_spent_ms`` then
    replaces the time spent rather than adding to it.
    """
    dates = {"created_at": created_at, "updated_at": updated_at or created_at}
    # Atomic with its caller's transaction, without a savepoint of its own: an error here
    # rolls back to the caller's savepoint, or the whole transaction where it has none (an
    # import: all or nothing); two statements fewer a recorded annotation.
    with transaction.atomic(savepoint=False):
        written = _annotation_write(
            project, annotator, image_id, labels, time_spent_ms, queued=False, dates=dates
        )
        kept: dict[str, object] = {name: when for name, when in dates.items() if when}
        # A new annotation was written with its dates; one there before takes them now.
        if kept and not written.created:
            if time_spent_ms is not None:
                kept["time_spent_ms"] = time_spent_ms
            Annotation.objects.filter(pk=written.annotation.pk).update(**kept)
            for name, value in kept.items():
                setattr(written.annotation, name, value)
    return written


def annotations_batched(project: Project) -> bool:
    """Whether new recorded labels of the project may be written together
    (``annotations_record_new``): on PostgreSQL, where the project's overlap is fixed.
    Under adaptive overlap each new label may ask for more annotators, decided in turn."""
    return connection.vendor == "postgresql" and not overlap_extra_cap(project)


def annotation_new_checked(
    *, project: Project, image_id: Any, labels: Any, time_spent_ms: int | None
) -> list[int]:
    """The checks ``annotation_record`` makes before it writes, for a label recorded with
    others (``annotations_record_new``); returns its label ids, sorted."""
    _check_time_spent(time_spent_ms)
    chosen = labels_resolve(project=project, raw_labels=labels)
    image_id_check(image_id)
    if not 0 < image_id <= MAX_ID:
        raise _not_of_project(image_id)
    return sorted(label.pk for label in chosen)


NewRecord = submit_sql.NewRecord


def annotations_record_new(
    *, project: Project, records: Sequence[NewRecord]
) -> dict[tuple[int, int], int]:
    """Record labels given outside the queue as ``annotation_record`` records each one, for
    annotators with no annotation of their image, in one statement
    (``submit_sql.annotations_create_many``): each checked first
    (``annotation_new_checked``), the images' rows locked by the caller, the project one
    whose new labels may be written together (``annotations_batched``). Returns the new
    annotations' ids by (image, annotator); a record whose annotator has one after all,
    or whose image is of another project, is not among them, having written nothing."""
    assert annotations_batched(project), "new labels of this project are recorded one by one"
    if not records:
        return {}
    ids = submit_sql.annotations_create_many(
        project_id=project.pk, overlap=project.overlap, records=records, now=timezone.now()
    )
    if ids:
        labels_changed(project_id=project.pk)
    return ids


def _annotation_write(
    project: Project,
    annotator: User,
    image_id: Any,
    labels: Any,
    time_spent_ms: int | None,
    *,
    queued: bool,
    dates: dict[str, datetime | None] | None = None,
) -> LabelsWritten:
    """The submit, one way down: check, lock and read (one statement), decide, write.

    ``dates`` (``created_at``, ``updated_at``; None: now) are those a new annotation is
    written with; one that exists keeps its own (its recorder sets them after).

    This is the one caller of ``submit_sql`` but ``annotations_record_new``: the helpers
    below decide and return what to write, and the statements run here, in the order the
    submit takes them. Its callers
    run it in a transaction of their own (``annotation_record`` with the write of the
    dates, and no savepoint where it is nested in another). It refuses (ValidationFailed)
    before its first write.
    """
    _check_time_spent(time_spent_ms)
    chosen = labels_resolve(project=project, raw_labels=labels)
    label_ids = sorted(label.pk for label in chosen)
    now = timezone.now()
    image_id_check(image_id)
    if not 0 < image_id <= MAX_ID:
        raise _not_of_project(image_id)
    held = _held(project, image_id, submit_sql.image_lock_held(image_id, annotator.pk, now))
    if held.annotation_id is None and queued:
        if not held.lease_live and held.skip:  # the skip is taken back as the label takes it
            submit_sql.held_release(
                image_id=image_id, annotator_id=annotator.pk, lease=False, skip=True
            )
        held = _check_room(project, held, image_id, annotator)
    shown = held.suggested_by is not None
    accepted = shown and held.suggested_label_ids == label_ids
    if held.annotation_id is None:
        made = {name: when for name, when in (dates or {}).items() if when is not None}
        annotation_id = submit_sql.annotation_create(
            **_create_params(project, annotator, image_id, label_ids, time_spent_ms, now, held),
            accepted=accepted,
            shown=shown,
            created_at=made.get("created_at"),
            updated_at=made.get("updated_at"),
        )
        if annotation_id is not None:
            extra = _adaptive_extra(project, image_id, held)
            if extra is not None:
                queue_state.image_extra_annotations_set(image_id=image_id, extra=extra)
            annotation = _created(
                project, annotator, image_id, annotation_id, time_spent_ms, now, held, accepted
            )
            for name, when in made.items():
                setattr(annotation, name, when)
            return _submitted(annotation, chosen, created=True)
        # The same submit, sent again before the first answered (a client's retry), wrote
        # the annotation after this one's snapshot and before its lock: read what it holds.
        held = _held(project, image_id, submit_sql.image_lock_held(image_id, annotator.pk, now))
    assert held.annotation_id is not None
    annotation = Annotation.objects.get(pk=held.annotation_id)
    if not _annotation_change(annotation, chosen, label_ids, time_spent_ms, held, accepted):
        return LabelsWritten(annotation, created=False, changed=False)
    submit_sql.revision_insert(
        annotation_id=annotation.pk, label_ids=label_ids, time_spent_ms=time_spent_ms, now=now
    )
    submit_sql.held_release(
        image_id=image_id, annotator_id=annotator.pk, lease=held.lease, skip=held.skip
    )
    return _submitted(annotation, chosen, created=False)


def _create_params(
    project: Project,
    annotator: User,
    image_id: int,
    label_ids: list[int],
    time_spent_ms: int | None,
    now: datetime,
    held: submit_sql.Held,
) -> dict[str, Any]:
    """What ``submit_sql.annotation_create`` writes, but for the suggestion's outcome."""
    return {
        "project_id": project.pk,
        "image_id": image_id,
        "annotator_id": annotator.pk,
        "label_ids": label_ids,
        "time_spent_ms": time_spent_ms,
        "suggested_by": held.suggested_by,
        "withheld": held.suggestion_withheld,
        "grid": held.grid,
        "overlap": project.overlap + held.extra_annotations,
        "now": now,
        "held": held,
    }


def _created(
    project: Project,
    annotator: User,
    image_id: int,
    annotation_id: int,
    time_spent_ms: int | None,
    now: datetime,
    held: submit_sql.Held,
    accepted: bool,
) -> Annotation:
    """The annotation the submit wrote, as written (no read back)."""
    return Annotation(
        pk=annotation_id,
        project=project,
        image_id=image_id,
        annotator=annotator,
        time_spent_ms=time_spent_ms,
        suggested_by_id=held.suggested_by,
        suggestion_accepted=accepted,
        suggestion_shown=held.suggested_by is not None,
        suggestion_withheld=held.suggestion_withheld,
        grid=held.grid,
        created_at=now,
        updated_at=now,
    )


def _annotation_change(
    annotation: Annotation,
    chosen: list[Label],
    label_ids: list[int],
    time_spent_ms: int | None,
    held: submit_sql.Held,
    accepted: bool,
) -> bool:
    """Give an existing annotation new labels; returns False (nothing written) for the same."""
    current = sorted(annotation.labels.values_list("pk", flat=True))
    if current == label_ids:
        return False
    annotation.labels.set(chosen)
    if time_spent_ms is not None:
        annotation.time_spent_ms = (annotation.time_spent_ms or 0) + time_spent_ms
    # An edited label is the annotator's own call, whatever was suggested before, unless
    # the image came back to them from the queue with a suggestion (after an undo).
    if held.suggested_by is not None:
        annotation.suggested_by_id = held.suggested_by
        annotation.suggestion_shown = True
    annotation.suggestion_accepted = accepted
    fields = ["time_spent_ms", "suggested_by", "suggestion_shown", "suggestion_accepted"]
    annotation.save(update_fields=[*fields, "updated_at"])
    return True


def _check_room(
    project: Project, held: submit_sql.Held, image_id: int, annotator: User
) -> submit_sql.Held:
    """Refuse a new label the queue did not hand out, or one the lease gate would refuse;
    returns what the annotator holds on the image once it is theirs.

    A live lease passed the gate when it was written: the slot is the annotator's (only a
    lowered overlap can take it), and only their own standing is checked again. An
    expired lease or a skip holds no slot: the label takes one through the gate, as a
    new lease would (``queue_take``), the skip taken back first (by the caller) as the
    label takes it.
    """
    if not (held.lease or held.skip):
        raise NotHandedOut(
            f"Image {image_id} was not handed to you by the queue: label the images that "
            "next/ gives you.",
            field="image",
        )
    if not held.lease_live:
        queue_take(
            project=project, image_id=image_id, annotator=annotator, late=held.lease, grid=held.grid
        )
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


def _adaptive_extra(project: Project, image_id: int, held: submit_sql.Held) -> int | None:
    """Under adaptive overlap, how many extra annotators the image now asks for, when the
    labels it has now, this new one counted, leave doubt (``labeler.annotations.adaptive``);
    None when it asks for no more.

    Only the submit that gives the image the labels it asked for decides, and it holds
    the image's row lock, as the queue does when it counts the image's slots: no image
    is handed to more annotators than it asks for. Gold images are decided already.
    """
    cap = overlap_extra_cap(project)
    needed = project.overlap + held.extra_annotations
    if held.gold or held.extra_annotations >= cap or held.annotation_count + 1 < needed:
        return None
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
    return held.extra_annotations + 1 if decision.more else None


def _submitted(annotation: Annotation, chosen: list[Label], *, created: bool) -> LabelsWritten:
    # The labels as submitted, for the answer (see AnnotationSerializer).
    annotation.submitted_labels = chosen  # type: ignore[attr-defined]
    labels_changed(project_id=annotation.project_id)
    return LabelsWritten(annotation, created=created, changed=True)


def _held(project: Project, image_id: int, held: submit_sql.Held | None) -> submit_sql.Held:
    """What the annotator holds on the project's image, as the lock read it; refuses an
    image of no project or of another."""
    if held is None or held.project_id != project.pk:
        raise _not_of_project(image_id)
    return held


def _not_of_project(image_id: int) -> ValidationFailed:
    return ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")


def _check_time_spent(time_spent_ms: int | None) -> None:
    if time_spent_ms is not None and not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS:
        raise ValidationFailed(
            "time_spent_ms must be between 0 and 86400000.", field="time_spent_ms"
        )
