"""The annotation queue: which image an annotator labels next.

An image is open to an annotator while it has fewer than ``overlap`` annotations and
unexpired leases together, and the annotator has neither labelled nor skipped it.
Candidates are read in priority order from a partial index of incomplete images and locked with
``FOR UPDATE SKIP LOCKED``, so annotators never wait on each other; once the row is
locked its slots are counted again with a fresh statement, because every writer of an
image's slots (this function and annotation_submit) holds that row's lock. SQLite has no
row locks: there every transaction takes the write lock up front (see settings).

This is the hottest path of the application (every image an annotator sees), so its
statements are written in SQL once rather than built by the ORM on every call: building
them cost several times what PostgreSQL takes to run them. ``queue_sql`` holds them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labeler.annotations import queue_sql
from labeler.annotations.errors import LeaseLimit
from labeler.annotations.models import Annotation, Assignment, FinalLabel, FinalLabelMethod, Skip
from labeler.annotations.qualification import queue_gate
from labeler.images.models import Image
from labeler.projects.models import Project

MAX_ATTEMPTS = 20
_random = random.Random()  # gold mixing; tests set the project's rate to 0 or 1


def queue_next_image(
    *, project: Project, annotator: User, exclude: Iterable[int] = ()
) -> Assignment | None:
    """Lease the next image to the annotator, or None when nothing is left for them.

    An annotator who already holds an unexpired lease gets that image again (with the
    lease renewed), unless its id is in ``exclude`` (a client prefetching ahead). One who
    holds ``LABELER_MAX_LEASES`` live leases, all excluded, gets no more: ``LeaseLimit``.
    An annotator taking the project's qualification test gets only gold images; one who
    failed it or was paused is refused (``qualification.queue_gate``).

    The usual path is three statements in one transaction: the held leases, the best
    unlocked candidate (locked, the image's row read whole), and the lease written if
    the image's slots, counted afresh, still have room. Only when every candidate is
    locked by someone else for a moment does a second transaction wait for them, one
    savepoint per try.
    """
    qualifying = queue_gate(project=project, annotator=annotator)
    excluded = set(exclude)
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.LABELER_LEASE_SECONDS)
    lease = _Lease(project, annotator, now, expires_at)
    with transaction.atomic():
        held = _renew_held(lease, excluded)
        if held is not None:
            return held
        if qualifying:  # a new annotator's test: gold images only
            return _lease_test_image(lease, excluded)
        if project.gold_rate > 0 and _random.random() < project.gold_rate:
            gold = _lease_gold(lease, excluded)
            if gold is not None:
                return gold
        leased = _lease_unlocked(lease, excluded)
        if leased is not _ALL_LOCKED:
            return leased
    # The rows skipped as locked may still have a slot for this annotator: wait for them.
    with transaction.atomic():
        for _ in range(MAX_ATTEMPTS):
            try:
                return _lease_waiting(lease, excluded)
            except _NoFreeSlot:
                continue
    return None


class _Lease:
    """One call's lease terms: who, where, from when to when, as the statements take them."""

    def __init__(
        self, project: Project, annotator: User, now: datetime, expires_at: datetime
    ) -> None:
        self.project, self.annotator = project, annotator
        self.now, self.expires_at = now, expires_at
        adapt = connection.ops.adapt_datetimefield_value
        self.params: dict[str, Any] = {
            "project": project.pk,
            "me": annotator.pk,
            "overlap": project.overlap,
            "now": adapt(now),
            "expires": adapt(expires_at),
        }

    def write(self, image: Image) -> Assignment | None:
        """Lease the image (or renew the lease) if it has a slot for the annotator, counted
        afresh; None when it has none."""
        with connection.cursor() as cursor:
            cursor.execute(queue_sql.statement("lease"), {**self.params, "image": image.pk})
            row = cursor.fetchone()
        if row is None:
            return None
        return Assignment(
            pk=row[0],
            project=self.project,
            image=image,
            annotator=self.annotator,
            expires_at=self.expires_at,
            created_at=self.now,
        )


def _renew_held(lease: _Lease, excluded: set[int]) -> Assignment | None:
    """The annotator's oldest live lease, renewed, if its image still has room for them.

    A lease whose image filled up meanwhile (overlap lowered) is dropped rather than
    handed out beyond overlap. Raises ``LeaseLimit`` when the annotator holds as many
    live leases as one may and every one of them is excluded.
    """
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.statement("held"), lease.params)
        live = cursor.fetchall()
    held = [(pk, image_id) for pk, image_id in live if image_id not in excluded]
    if not held and len(live) >= settings.LABELER_MAX_LEASES:
        raise LeaseLimit(
            f"You hold {len(live)} images already, the most one annotator may: label or "
            "skip them before asking for more."
        )
    for pk, image_id in held:
        # Renewing takes no new slot, so no row lock is needed to check for room.
        with connection.cursor() as cursor:
            cursor.execute(queue_sql.statement("renew"), {**lease.params, "lease": pk})
            renewed = cursor.rowcount == 1
            if not renewed:
                cursor.execute(queue_sql.statement("drop"), {"lease": pk})
        if renewed:
            return Assignment(
                pk=pk,
                project=lease.project,
                image=Image.objects.get(pk=image_id),
                annotator=lease.annotator,
                expires_at=lease.expires_at,
            )
    return None


def queue_suggestion_record(
    *, assignment: Assignment, model_version: int | None, label_ids: list[int], withheld: bool
) -> None:
    """Keep on the lease what the queue showed with its image: the model version and its
    labels, or that the model's suggestion was held back. The submit reads it from there."""
    params = {
        "lease": assignment.pk,
        "model_version": None if withheld else model_version,
        "label_ids": None if withheld else json.dumps(sorted(label_ids)),
        "withheld": withheld,
    }
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.statement("suggestion"), params)


def queue_hold(*, project: Project, image: Image, annotator: User) -> Assignment | None:
    """Lease an image to an annotator coming back to it, if it has room for them (a gold
    image, which every annotator gets, always has).

    The caller holds the image's row lock (as every writer of its slots does).
    """
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.LABELER_LEASE_SECONDS)
    lease = _Lease(project, annotator, now, expires_at)
    if FinalLabel.objects.filter(image=image, method=FinalLabelMethod.GOLD).exists():
        return _gold_write(lease, image)
    return lease.write(image)


def _lease_gold(lease: _Lease, excluded: set[int]) -> Assignment | None:
    """A gold image the annotator has not seen, leased like any other.

    Gold images score annotators, so every annotator gets them whatever the overlap;
    nothing in the answer tells them apart from the rest of the queue.
    """
    annotator = lease.annotator
    seen = Annotation.objects.filter(image=OuterRef("pk"), annotator=annotator)
    skipped = Skip.objects.filter(image=OuterRef("pk"), annotator=annotator)
    gold = (
        Image.objects.filter(project=lease.project, final_label__method=FinalLabelMethod.GOLD)
        .exclude(pk__in=excluded)
        .exclude(Exists(seen))
        .exclude(Exists(skipped))
        .order_by("?")
        .first()
    )
    if gold is None:
        return None
    return _gold_write(lease, gold)


def _lease_test_image(lease: _Lease, excluded: set[int]) -> Assignment:
    """A gold image for the qualification test. The test is decided before this is
    called once no gold image is left unseen, so none here means the annotator holds
    every one still open: like the lease cap, they label those before asking again."""
    gold = _lease_gold(lease, excluded)
    if gold is None:
        raise LeaseLimit(
            "You hold every test image you have not labelled yet: label them before "
            "asking for more."
        )
    return gold


def _gold_write(lease: _Lease, image: Image) -> Assignment:
    """A lease on a gold image: it takes no slot, so no count decides it."""
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.statement("lease_gold"), {**lease.params, "image": image.pk})
        (pk,) = cursor.fetchone()
    return Assignment(
        pk=pk,
        project=lease.project,
        image=image,
        annotator=lease.annotator,
        expires_at=lease.expires_at,
        created_at=lease.now,
    )


class _NoFreeSlot(Exception):
    """The locked candidate turned out to be full; roll back its savepoint and go on."""


_ALL_LOCKED: Any = object()  # every open candidate is locked by another transaction


def _lease_unlocked(lease: _Lease, excluded: set[int]) -> Assignment | None:
    """Lease the best candidate no one else holds; ``_ALL_LOCKED`` if there is none.

    This never waits for a lock, so it may keep the locks of full candidates until its
    transaction ends without risking a deadlock.
    """
    for _ in range(MAX_ATTEMPTS):
        image = _candidate(lease, excluded, wait=False)
        if image is None:
            return _ALL_LOCKED
        leased = lease.write(image)
        if leased is not None:
            return leased
        excluded.add(image.pk)
    return None


def _lease_waiting(lease: _Lease, excluded: set[int]) -> Assignment | None:
    # A savepoint per attempt: rolling it back releases the row lock of a full
    # candidate, so a transaction never holds one image while waiting for another.
    with transaction.atomic():
        image = _candidate(lease, excluded, wait=True)
        if image is None:
            return None
        leased = lease.write(image)
        if leased is None:
            excluded.add(image.pk)
            raise _NoFreeSlot
        return leased


def _candidate(lease: _Lease, excluded: set[int], *, wait: bool) -> Image | None:
    """The best open image for the annotator, row-locked (skipping locked rows unless
    ``wait``), read whole for the answer."""
    sql, params = queue_sql.candidate(lease.params, excluded, wait=wait)
    return next(iter(Image.objects.raw(sql, params)), None)
