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

This module and its statements are the one writer of leases (``Assignment``): the skip
and the clean-up of expired leases call down into it, and the submit's statement embeds
the lease's release (``queue_sql.LEASE_RELEASE_SQL``).
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
from django.utils import timezone

from labeler.annotations import queue_sql
from labeler.annotations.errors import GridOff, LeaseLimit, QualificationImagesOnly
from labeler.annotations.models import Assignment
from labeler.annotations.qualification import gold_open_to, queue_gate
from labeler.annotations.refusals import lease_facts, lease_refusal, qualification_images_only
from labeler.errors import Conflict, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import GridMode, Project
from labeler.raw_rows import raw_first

MAX_ATTEMPTS = 20
MAX_PAGE_SIZE = 48  # the most images one grid page asks for (grid_size's maximum)
# The most image ids a client may exclude from one request. A client excludes what it has
# leased and not yet saved (the deck or the page on screen and the page ahead, and its
# outbox), at most a few hundred; every id costs each candidate statement a parameter.
MAX_EXCLUDED = 1000
_random = random.Random()  # gold mixing; tests set the project's rate to 0 or 1


def queue_next_image(
    *, project: Project, annotator: User, exclude: Iterable[int] = ()
) -> Assignment | None:
    """Lease the next image to the annotator, or None when nothing is left for them.

    An annotator who already holds an unexpired lease gets that image again (with the
    lease renewed), unless its id is in ``exclude`` (a client prefetching ahead). One who
    holds ``LABELER_MAX_LEASES`` live leases, all excluded, gets no more: ``LeaseLimit``.
    An annotator taking the project's qualification test gets only gold images; one who
    failed it or was paused is refused (the gate, ``_Lease.open``). More than
    ``MAX_EXCLUDED`` ids excluded: ``ValidationFailed``.

    The usual path is three statements in one transaction: the held leases, the best
    unlocked candidate (locked, the image's row read whole), and the lease written if
    the image's slots, counted afresh, still have room. Only when every candidate is
    locked by someone else for a moment does a second transaction wait for them, one
    savepoint per try.
    """
    excluded = _excluded(exclude)
    lease = _Lease.open(project=project, annotator=annotator)
    return _lease_next(lease, excluded)


def queue_next_page(
    *, project: Project, annotator: User, size: int | None = None, exclude: Iterable[int] = ()
) -> list[Assignment]:
    """Lease up to ``size`` images (the project's ``grid_size`` by default) for a grid page.

    The annotator's held leases are renewed first, in one pass; each further image is
    leased as ``queue_next_image`` leases one, in a transaction of its own (gold drawn at
    the project's rate, test images only during the qualification test), the page's
    images excluded from the next; the leases say
    they were handed out on a grid page. The lease cap for them is ``lease_cap(grid=True)``
    (the page on screen and the page ahead). The page ends early when the queue runs out
    or the cap is reached; an empty list means nothing is left. Raises what
    ``queue_next_image`` raises when not one image could be leased (the cap, the
    annotator's standing), ``GridOff`` when the project labels one image at a time only,
    and ``ValidationFailed`` for a size outside 1 to ``MAX_PAGE_SIZE`` or more than
    ``MAX_EXCLUDED`` ids excluded.
    """
    if size is not None and not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"'size' must be a whole number of images from 1 to {MAX_PAGE_SIZE}.", field="size"
        )
    if project.grid_mode == GridMode.OFF:
        raise GridOff("This project labels one image at a time: a lead turned grid labelling off.")
    excluded = _excluded(exclude)
    lease = _Lease.open(project=project, annotator=annotator, grid=True)
    wanted = size or project.grid_size
    # The held leases first, renewed in one pass (one read of them, not one per image).
    with transaction.atomic():
        page, live = _renew_held(lease, excluded, limit=wanted)
    excluded.update(assignment.image_id for assignment in page)
    while len(page) < wanted and live < lease.cap:
        try:
            leased = _lease_next(lease, excluded, renew=False)
        except LeaseLimit:  # the test's images all held
            if not page:
                raise
            break
        if leased is None:
            break
        page.append(leased)
        excluded.add(leased.image_id)
        live += 1
    return page


def _excluded(exclude: Iterable[int]) -> set[int]:
    """The ids a request excludes, refused past ``MAX_EXCLUDED``."""
    excluded = set(exclude)
    if len(excluded) > MAX_EXCLUDED:
        raise ValidationFailed(
            f"'exclude' names {len(excluded)} images; at most {MAX_EXCLUDED} may be excluded.",
            field="exclude",
        )
    return excluded


def lease_cap(project: Project, *, grid: bool) -> int:
    """The most live leases an annotator may hold in the project: ``LABELER_MAX_LEASES``,
    and for leases of a grid page at least two pages' worth (the page on screen and the
    page ahead, leased before the first is done)."""
    if grid:
        return max(settings.LABELER_MAX_LEASES, 2 * project.grid_size)
    return settings.LABELER_MAX_LEASES


def _lease_next(lease: _Lease, excluded: set[int], *, renew: bool = True) -> Assignment | None:
    """The one path to a lease from the queue: a held lease renewed (unless ``renew`` is
    off: a page renewed its held leases already), else a test image, a gold image at the
    project's rate, or the best open candidate (``excluded`` added to)."""
    project = lease.project
    with transaction.atomic():
        if renew:
            held, _ = _renew_held(lease, excluded, limit=1)
            if held:
                return held[0]
        if lease.test_only:  # a new annotator's test: gold images only
            return _lease_test_image(lease, excluded)
        if project.gold_rate > 0 and _random.random() < project.gold_rate:
            gold = _lease_gold(lease, excluded)
            if gold is not None:
                return gold
        leased = _lease_unlocked(lease, excluded)
        if leased is not _ALL_LOCKED:
            return leased
    # The rows skipped as locked may still have a slot for this annotator: wait for them,
    # a transaction per try, so the annotator's lease lock taken by a try that found no
    # slot is not held while the next waits for a row (the lock order).
    for _ in range(MAX_ATTEMPTS):
        try:
            return _lease_waiting(lease, excluded)
        except _NoFreeSlot:
            continue
    return None


def queue_hold(
    *, project: Project, image: Image, annotator: User, grid: bool = False
) -> Assignment | None:
    """Lease an image to an annotator coming back to it (an undo), through the whole gate.

    Raises what closes the queue to the annotator (failed, paused), ``LeaseLimit`` at
    the lease cap and ``QualificationImagesOnly`` for a non-test image during the test; returns
    None, leasing nothing, when the image itself is not open to them (complete, flagged
    as a problem, kept for others, or with no slot left). The caller holds the image's
    row lock (as every writer of its slots does). ``grid``: the image goes back to a grid
    page (the lease says so, and the grid cap applies).
    """
    lease = _Lease.open(project=project, annotator=annotator, grid=grid)
    written = lease.write(image)
    if written is None:
        refusal = lease.refusal(image.pk)
        if isinstance(refusal, LeaseLimit | QualificationImagesOnly):
            raise refusal
    return written


def queue_take(
    *, project: Project, image_id: int, annotator: User, late: bool, grid: bool = False
) -> None:
    """Lease the image for a new label given without a live lease of it (``late``: one
    that expired; else after a skip), through the whole gate; raises why it may not.
    ``grid``: the expired lease was handed out on a grid page (the grid cap applies).

    The caller holds the image's row lock and has taken the annotator's skip of it back.
    """
    lease = _Lease.open(project=project, annotator=annotator, grid=grid)
    if lease.write(Image(pk=image_id, project=project)) is None:
        raise lease.refusal(image_id, late=late)


def leases_lock(*, project_id: int, annotator_id: int) -> None:
    """Hold the annotator's lease lock in the project until the transaction ends
    (PostgreSQL; SQLite lets one writer in at a time anyway). The only writer of a lease
    takes it before its statement, so the lease cap is counted exactly.

    In the lock order (docs/architecture.md): a caller may hold image rows when it takes
    it, and a transaction that holds it waits for no image row afterwards (the queue then
    takes its candidates with ``SKIP LOCKED``); it comes before the counters the image
    counts carry.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"labeler.leases.{project_id}.{annotator_id}"],
            )


def lease_release(*, image: Image, annotator: User) -> None:
    """End the annotator's lease of the image (they skipped it)."""
    Assignment.objects.filter(image=image, annotator=annotator).delete()


def leases_expired_delete(*, before: datetime) -> int:
    """Delete the leases that expired before ``before``; returns how many went."""
    deleted, _ = Assignment.objects.filter(expires_at__lte=before).delete()
    return deleted


def queue_admit(*, project: Project, annotator: User, gold: bool) -> None:
    """The gate's half on the annotator, for a new label on an image they hold a live
    lease of: refused while failed or paused, and to test images only during the test."""
    lease = _Lease.open(project=project, annotator=annotator)
    if lease.test_only and not gold:
        raise qualification_images_only()


class _Lease:
    """One annotator's lease terms, the gate's half on them applied (``open``); ``write``
    is the only writer of a lease and applies the image's half."""

    def __init__(
        self, project: Project, annotator: User, *, test_only: bool, grid: bool = False
    ) -> None:
        self.project, self.annotator, self.test_only = project, annotator, test_only
        self.grid = grid
        self._locked: tuple[object, tuple[str | None, ...]] | None = None  # see ``lock``
        self.cap = lease_cap(project, grid=grid)
        self.now = timezone.now()
        self.expires_at = self.now + timedelta(seconds=settings.LABELER_LEASE_SECONDS)
        adapt = connection.ops.adapt_datetimefield_value
        self.params: dict[str, Any] = {
            "project": project.pk,
            "me": annotator.pk,
            "overlap": project.overlap,
            "now": adapt(self.now),
            "expires": adapt(self.expires_at),
            "cap": self.cap,
            "test_only": test_only,
            "grid": grid,
            "blur_faces": project.blur_faces,
        }

    @classmethod
    def open(cls, *, project: Project, annotator: User, grid: bool = False) -> _Lease:
        """The gate on the annotator: raises ``QualificationFailed`` or ``AnnotatorPaused``
        when the queue is closed to them; during the test only gold images are leased.
        ``grid``: the leases are handed out on a grid page (their cap is the grid's)."""
        test_only = queue_gate(project=project, annotator=annotator)
        return cls(project, annotator, test_only=test_only, grid=grid)

    def write(self, image: Image) -> Assignment | None:
        """Lease the image (or renew the lease) if the gate lets the annotator take it and
        it has a slot for them, counted afresh; None when not (``refusal`` says why).

        The annotator's lease lock is taken first and held to the transaction's end, so
        the cap is counted with every other lease of theirs committed: two requests of
        one annotator sent together cannot both take the last place under it.
        """
        self.lock()
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
            grid=self.grid,
        )

    def lock(self) -> None:
        """Hold the annotator's lease lock (``leases_lock``) to the transaction's end,
        taken once a transaction: kept while the savepoint it was taken in stands (rolling
        a savepoint back releases the locks taken in it)."""
        assert connection.in_atomic_block, "leases are written in a transaction"
        outer, savepoints = connection.atomic_blocks[0], tuple(connection.savepoint_ids)
        if self._locked is not None:
            locked_outer, locked_savepoints = self._locked
            if outer is locked_outer and savepoints[: len(locked_savepoints)] == locked_savepoints:
                return
        leases_lock(project_id=self.project.pk, annotator_id=self.annotator.pk)
        self._locked = (outer, savepoints)

    def cap_check(self, image_id: int) -> None:
        """After ``write`` leased nothing (so under the annotator's lease lock): raise
        ``LeaseLimit`` when the cap is why, rather than trying other images."""
        with connection.cursor() as cursor:
            cursor.execute(queue_sql.statement("live"), {**self.params, "image": image_id})
            (live,) = cursor.fetchone()
        if live >= self.cap:
            raise _lease_limit(live)

    def refusal(self, image_id: int, *, late: bool = False) -> Conflict:
        """Why ``write`` leased nothing, as the error the annotator is answered with."""
        facts = lease_facts(
            project_id=self.project.pk,
            overlap=self.project.overlap,
            annotator_id=self.annotator.pk,
            image_id=image_id,
            now=self.now,
            cap=self.cap,
            test_only=self.test_only,
            blur_faces=self.project.blur_faces,
        )
        return lease_refusal(facts, late=late)


def _renew_held(lease: _Lease, excluded: set[int], *, limit: int) -> tuple[list[Assignment], int]:
    """Up to ``limit`` of the annotator's live leases, oldest first, renewed where their
    image still has room for them, and how many live leases they hold after.

    A lease whose image filled up meanwhile (overlap lowered) is dropped rather than
    handed out beyond overlap. Raises ``LeaseLimit`` when the annotator holds as many
    live leases as one may and every one of them is excluded.

    A renewal writes leases: it holds the annotator's lease lock, so two requests of
    theirs renew one at a time (in an order that changes as leases are handed out again,
    renewals of several leases each waited for the other's).
    """
    lease.lock()
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.statement("held"), lease.params)
        live = cursor.fetchall()
    held = [(pk, image_id) for pk, image_id in live if image_id not in excluded]
    if not held and len(live) >= lease.cap:
        raise _lease_limit(len(live))
    renewed: list[tuple[int, int]] = []
    dropped = 0
    for pk, image_id in held:
        if len(renewed) == limit:
            break
        # Renewing takes no new slot, so no row lock is needed to check for room.
        with connection.cursor() as cursor:
            cursor.execute(queue_sql.statement("renew"), {**lease.params, "lease": pk})
            if cursor.rowcount == 1:
                renewed.append((pk, image_id))
            else:
                cursor.execute(queue_sql.statement("drop"), {"lease": pk})
                dropped += 1
    images = Image.objects.in_bulk([image_id for _, image_id in renewed])
    assignments = [
        Assignment(
            pk=pk,
            project=lease.project,
            image=images[image_id],
            annotator=lease.annotator,
            expires_at=lease.expires_at,
            grid=lease.grid,
        )
        for pk, image_id in renewed
    ]
    return assignments, len(live) - dropped


def _lease_limit(live: int) -> LeaseLimit:
    return LeaseLimit(
        f"You hold {live} images already, the most one annotator may: label or "
        "skip them before asking for more."
    )


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


def _lease_gold(lease: _Lease, excluded: set[int]) -> Assignment | None:
    """A gold image the annotator has not seen, leased like any other.

    Gold images score annotators, so every annotator gets them whatever the overlap;
    nothing in the answer tells them apart from the rest of the queue.
    """
    gold = (
        gold_open_to(project=lease.project, annotator_id=lease.annotator.pk)
        .exclude(pk__in=excluded)
        .order_by("?")
        .first()
    )
    if gold is None:
        return None
    leased = lease.write(gold)
    if leased is None:
        lease.cap_check(gold.pk)
    return leased


def _lease_test_image(lease: _Lease, excluded: set[int]) -> Assignment | None:
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
        lease.cap_check(image.pk)
        excluded.add(image.pk)
    return None


def _lease_waiting(lease: _Lease, excluded: set[int]) -> Assignment | None:
    # A transaction per attempt (a savepoint in a caller's): rolling it back releases the
    # row lock of a full candidate, so a transaction never holds one image while waiting
    # for another.
    with transaction.atomic():
        image = _candidate(lease, excluded, wait=True)
        if image is None:
            return None
        leased = lease.write(image)
        if leased is None:
            lease.cap_check(image.pk)
            excluded.add(image.pk)
            raise _NoFreeSlot
        return leased


def _candidate(lease: _Lease, excluded: set[int], *, wait: bool) -> Image | None:
    """The best open image for the annotator, row-locked (skipping locked rows unless
    ``wait``), read whole for the answer."""
    sql, params = queue_sql.candidate(lease.params, excluded, wait=wait)
    return raw_first(Image, sql, params)
