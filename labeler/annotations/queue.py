"""The annotation queue: which image an annotator labels next.

An image is open to an annotator while it has fewer than ``overlap`` annotations and
unexpired leases together, and the annotator has neither labelled nor skipped it.
Candidates are read in priority order from a partial index of incomplete images and locked with
``FOR UPDATE SKIP LOCKED``, so annotators never wait on each other; once the row is
locked its slots are counted again with a fresh statement, because every writer of an
image's slots (this function and annotation_submit) holds that row's lock. SQLite has no
row locks: there every transaction takes the write lock up front (see settings).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeler.annotations.models import Annotation, Assignment, FinalLabelMethod, Skip
from labeler.images.models import Image
from labeler.projects.models import Project

MAX_ATTEMPTS = 20
_random = random.Random()  # gold mixing; tests set the project's rate to 0 or 1


def queue_next_image(
    *, project: Project, annotator: User, exclude: Iterable[int] = ()
) -> Assignment | None:
    """Lease the next image to the annotator, or None when nothing is left for them.

    An annotator who already holds an unexpired lease gets that image again (with the
    lease renewed), unless its id is in ``exclude`` (a client prefetching ahead).

    The usual path is four statements in one transaction: the held lease, the best
    unlocked candidate (locked), its slots counted afresh, the lease written. Only when
    every candidate is locked by someone else for a moment does a second transaction wait
    for them, one savepoint per try.
    """
    excluded = set(exclude)
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.LABELER_LEASE_SECONDS)
    with transaction.atomic():
        held = _renew_held(project, annotator, excluded, now, expires_at)
        if held is not None:
            return held
        if project.gold_rate > 0 and _random.random() < project.gold_rate:
            gold = _lease_gold(project, annotator, excluded, now, expires_at)
            if gold is not None:
                return gold
        leased = _lease_unlocked(project, annotator, excluded, now, expires_at)
        if leased is not _ALL_LOCKED:
            return leased
    # The rows skipped as locked may still have a slot for this annotator: wait for them.
    with transaction.atomic():
        for _ in range(MAX_ATTEMPTS):
            try:
                return _lease_waiting(project, annotator, excluded, now, expires_at)
            except _NoFreeSlot:
                continue
    return None


def _renew_held(
    project: Project,
    annotator: User,
    excluded: set[int],
    now: datetime,
    expires_at: datetime,
) -> Assignment | None:
    """The annotator's oldest live lease, renewed, if its image still has room for them.

    A lease whose image filled up meanwhile (overlap lowered, labels given outside the
    queue) is dropped rather than handed out beyond overlap.
    """
    leases = Assignment.objects.filter(
        project=project, annotator=annotator, expires_at__gt=now
    ).select_related("image")
    for held in leases.exclude(image_id__in=excluded).order_by("created_at", "id"):
        # Renewing takes no new slot, so no row lock is needed to check for room.
        if _has_free_slot(project, held.image_id, annotator, now):
            held.expires_at = expires_at
            held.save(update_fields=["expires_at"])
            return held
        held.delete()
    return None


def queue_hold(*, project: Project, image: Image, annotator: User) -> Assignment | None:
    """Lease an image to an annotator coming back to it, if it has room for them.

    The caller holds the image's row lock (as every writer of its slots does).
    """
    now = timezone.now()
    if not _has_free_slot(project, image.pk, annotator, now):
        return None
    expires_at = now + timedelta(seconds=settings.LABELER_LEASE_SECONDS)
    return _lease(project, image, annotator, now, expires_at)


def _lease(
    project: Project, image: Image, annotator: User, now: datetime, expires_at: datetime
) -> Assignment:
    """Create or renew the annotator's lease on an image, in one statement."""
    lease = Assignment(
        project=project, image=image, annotator=annotator, expires_at=expires_at, created_at=now
    )
    Assignment.objects.bulk_create(
        [lease],
        update_conflicts=True,
        unique_fields=["image", "annotator"],
        update_fields=["project", "expires_at", "created_at"],
    )
    return lease


def _lease_gold(
    project: Project,
    annotator: User,
    excluded: set[int],
    now: datetime,
    expires_at: datetime,
) -> Assignment | None:
    """A gold image the annotator has not seen, leased like any other.

    Gold images score annotators, so every annotator gets them whatever the overlap;
    nothing in the answer tells them apart from the rest of the queue.
    """
    seen = Annotation.objects.filter(image=OuterRef("pk"), annotator=annotator)
    skipped = Skip.objects.filter(image=OuterRef("pk"), annotator=annotator)
    gold = (
        Image.objects.filter(project=project, final_label__method=FinalLabelMethod.GOLD)
        .exclude(pk__in=excluded)
        .exclude(Exists(seen))
        .exclude(Exists(skipped))
        .order_by("?")
        .first()
    )
    if gold is None:
        return None
    return _lease(project, gold, annotator, now, expires_at)


class _NoFreeSlot(Exception):
    """The locked candidate turned out to be full; roll back its savepoint and go on."""


_ALL_LOCKED: Any = object()  # every open candidate is locked by another transaction


def _lease_unlocked(
    project: Project,
    annotator: User,
    excluded: set[int],
    now: datetime,
    expires_at: datetime,
) -> Assignment | None:
    """Lease the best candidate no one else holds; ``_ALL_LOCKED`` if there is none.

    This never waits for a lock, so it may keep the locks of full candidates until its
    transaction ends without risking a deadlock.
    """
    for _ in range(MAX_ATTEMPTS):
        candidates = _candidates(project, annotator, excluded, now)
        image = candidates.select_for_update(skip_locked=True, of=("self",)).first()
        if image is None:
            return _ALL_LOCKED
        if _has_free_slot(project, image.pk, annotator, now):
            return _lease(project, image, annotator, now, expires_at)
        excluded.add(image.pk)
    return None


def _lease_waiting(
    project: Project,
    annotator: User,
    excluded: set[int],
    now: datetime,
    expires_at: datetime,
) -> Assignment | None:
    # A savepoint per attempt: rolling it back releases the row lock of a full
    # candidate, so a transaction never holds one image while waiting for another.
    with transaction.atomic():
        candidates = _candidates(project, annotator, excluded, now)
        image = candidates.select_for_update(of=("self",)).first()
        if image is None:
            return None
        if not _has_free_slot(project, image.pk, annotator, now):
            excluded.add(image.pk)
            raise _NoFreeSlot
        return _lease(project, image, annotator, now, expires_at)


def _slots(annotator: User, now: datetime) -> dict[str, Any]:
    """What decides whether an image has a slot for the annotator, as annotations."""
    others_leases = (
        Assignment.objects.filter(image=OuterRef("pk"), expires_at__gt=now)
        .exclude(annotator=annotator)
        .order_by()
        .values("image")
        .annotate(n=Count("id"))
        .values("n")
    )
    return {
        "leased": Coalesce(Subquery(others_leases, output_field=IntegerField()), Value(0)),
        "done_by_me": Exists(Annotation.objects.filter(image=OuterRef("pk"), annotator=annotator)),
        "skipped_by_me": Exists(Skip.objects.filter(image=OuterRef("pk"), annotator=annotator)),
    }


def _candidates(
    project: Project, annotator: User, excluded: set[int], now: datetime
) -> QuerySet[Image]:
    return (
        Image.objects.filter(project=project, is_complete=False)
        .exclude(pk__in=excluded)
        .annotate(**_slots(annotator, now))
        .filter(
            Q(done_by_me=False),
            Q(skipped_by_me=False),
            Q(annotation_count__lt=project.overlap - F("leased")),
        )
        .order_by("-priority", "id")
    )


def _has_free_slot(project: Project, image_id: int, annotator: User, now: datetime) -> bool:
    """Whether the image has room for the annotator, counted afresh in one statement.

    A fresh statement sees every lease and label committed before it; the caller holds
    the image's row lock, so none can be added until it commits.
    """
    slots = _slots(annotator, now)
    row = (
        Image.objects.filter(pk=image_id)
        .annotate(**slots)
        .values("annotation_count", *slots)
        .first()
    )
    if row is None:
        return False
    return (
        not row["done_by_me"]
        and not row["skipped_by_me"]
        and row["annotation_count"] + row["leased"] < project.overlap
    )
