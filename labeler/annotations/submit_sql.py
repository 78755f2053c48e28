"""Submitting a new label, in SQL that PostgreSQL and SQLite both run.

Every annotator submits once per image, so these statements run as often as the queue's
(``queue_sql``) and are written once for the same reason: the ORM spent several times
the database's own time building them. Parameters are named: ``image``, ``me`` (the
annotator), ``project``, ``overlap``, ``now`` (as the connection stores datetimes).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from labeler.annotations.models import (
    Annotation,
    AnnotationRevision,
    Assignment,
    FinalLabel,
    Skip,
)
from labeler.annotations.queue_sql import LEASE_RELEASE_SQL, LEASES_RELEASE_SQL
from labeler.images import queue_state
from labeler.images.models import Image
from labeler.images.queue_state import COUNT_MANY_MORE_SQL, COUNT_ONE_MORE_SQL

_STATEMENTS = {
    # The image, row-locked, with what the annotator holds on it (their annotation, their
    # lease with the suggestion it handed out, a skip), its count and whether it is gold:
    # every writer of an image's slots takes this lock first (see the queue).
    "lock": """
        SELECT i.project_id,
            (SELECT a.id FROM {annotation} a WHERE a.image_id = i.id AND a.annotator_id = %(me)s),
            l.id IS NOT NULL, COALESCE(l.expires_at > %(now)s, FALSE),
            l.suggested_by_id, l.suggested_label_ids, COALESCE(l.suggestion_withheld, FALSE),
            EXISTS (SELECT 1 FROM {skip} s WHERE s.image_id = i.id AND s.annotator_id = %(me)s),
            i.annotation_count,
            EXISTS (SELECT 1 FROM {final} f WHERE f.image_id = i.id AND f.method = 'gold'),
            i.extra_annotations, COALESCE(
                l.grid,
                (SELECT s.grid FROM {skip} s WHERE s.image_id = i.id AND s.annotator_id = %(me)s),
                FALSE
            )
        FROM {image} i
        LEFT JOIN {lease} l ON l.image_id = i.id AND l.annotator_id = %(me)s
        WHERE i.id = %(image)s {lock}
    """,
    "annotation": """
        INSERT INTO {annotation} (project_id, image_id, annotator_id, time_spent_ms,
            suggested_by_id, suggestion_accepted, suggestion_shown, suggestion_withheld,
            grid, created_at, updated_at)
        VALUES (%(project)s, %(image)s, %(me)s, %(time_spent_ms)s, %(suggested_by)s,
            %(accepted)s, %(shown)s, %(withheld)s, %(grid)s, %(created_at)s, %(updated_at)s)
        ON CONFLICT (image_id, annotator_id) DO NOTHING
        RETURNING id
    """,
    "revision": """
        INSERT INTO {revision} (annotation_id, label_ids, time_spent_ms, created_at)
        VALUES (%(annotation)s, %(label_ids)s, %(time_spent_ms)s, %(now)s)
    """,
    # PostgreSQL: all of a new annotation's writes in one statement. Its annotation may
    # exist already, written by the same submit sent twice at once (see annotation_create).
    # The image's count is the queue state's writer's statement (``COUNT_ONE_MORE_SQL``),
    # the lease's release the queue's (``LEASE_RELEASE_SQL``).
    "create": """
        WITH a AS (
            INSERT INTO {annotation} (project_id, image_id, annotator_id, time_spent_ms,
                suggested_by_id, suggestion_accepted, suggestion_shown, suggestion_withheld,
                grid, created_at, updated_at)
            VALUES (%(project)s, %(image)s, %(me)s, %(time_spent_ms)s, %(suggested_by)s,
                %(accepted)s, %(shown)s, %(withheld)s, %(grid)s, %(created_at)s,
                %(updated_at)s)
            ON CONFLICT (image_id, annotator_id) DO NOTHING
            RETURNING id
        ), labelled AS (
            INSERT INTO {labels} (annotation_id, label_id)
            SELECT a.id, label FROM a, unnest(CAST(%(labels)s AS bigint[])) AS label
        ), revised AS (
            INSERT INTO {revision} (annotation_id, label_ids, time_spent_ms, created_at)
            SELECT a.id, CAST(%(label_ids)s AS jsonb), CAST(%(time_spent_ms)s AS integer),
                %(now)s
            FROM a
        ), counted AS ("""
    + COUNT_ONE_MORE_SQL
    + """ AND EXISTS (SELECT 1 FROM a)
        ), unleased AS ("""
    + LEASE_RELEASE_SQL
    + """ AND EXISTS (SELECT 1 FROM a)
        ), unskipped AS (
            DELETE FROM {skip} WHERE image_id = %(image)s AND annotator_id = %(me)s
                AND EXISTS (SELECT 1 FROM a)
        )
        SELECT id FROM a
    """,
    # PostgreSQL: a batch of new annotations recorded (an import's, of people who have
    # none on their image), in one statement: each as "create" writes one, the lease and
    # the suggestion it handed out read for it as "lock" reads them. The caller holds the
    # images' row locks. Their counts are the queue state's statement for several
    # (``COUNT_MANY_MORE_SQL``), their leases' release the queue's (``LEASES_RELEASE_SQL``).
    "create_many": """
        WITH x AS (
            SELECT * FROM unnest(CAST(%(images)s AS bigint[]), CAST(%(mes)s AS bigint[]),
                CAST(%(times)s AS integer[]), CAST(%(created)s AS timestamptz[]),
                CAST(%(updated)s AS timestamptz[]), CAST(%(label_ids)s AS text[]))
                WITH ORDINALITY AS x(image_id, me, time_spent_ms, created_at, updated_at,
                    label_ids, ord)
        ), held AS (
            SELECT x.*, l.suggested_by_id, l.suggested_label_ids,
                COALESCE(l.suggestion_withheld, FALSE) AS withheld, COALESCE(
                    l.grid,
                    (SELECT s.grid FROM {skip} s
                     WHERE s.image_id = x.image_id AND s.annotator_id = x.me),
                    FALSE
                ) AS grid,
                %(overlap)s + i.extra_annotations AS overlap
            FROM x JOIN {image} i ON i.id = x.image_id AND i.project_id = %(project)s
            LEFT JOIN {lease} l ON l.image_id = x.image_id AND l.annotator_id = x.me
        ), a AS (
            INSERT INTO {annotation} (project_id, image_id, annotator_id, time_spent_ms,
                suggested_by_id, suggestion_accepted, suggestion_shown, suggestion_withheld,
                grid, created_at, updated_at)
            SELECT %(project)s, image_id, me, time_spent_ms, suggested_by_id,
                COALESCE(suggested_by_id IS NOT NULL
                    AND suggested_label_ids = CAST(label_ids AS jsonb), FALSE),
                suggested_by_id IS NOT NULL, withheld, grid, created_at, updated_at
            FROM held ORDER BY ord
            ON CONFLICT (image_id, annotator_id) DO NOTHING
            RETURNING id, image_id, annotator_id
        ), ax AS (
            SELECT a.id, a.image_id, a.annotator_id, h.label_ids, h.time_spent_ms, h.overlap
            FROM a JOIN held h ON h.image_id = a.image_id AND h.me = a.annotator_id
        ), labelled AS (
            INSERT INTO {labels} (annotation_id, label_id)
            SELECT ax.id, CAST(label AS bigint)
            FROM ax, jsonb_array_elements_text(CAST(ax.label_ids AS jsonb)) AS label
        ), revised AS (
            INSERT INTO {revision} (annotation_id, label_ids, time_spent_ms, created_at)
            SELECT ax.id, CAST(ax.label_ids AS jsonb), ax.time_spent_ms, %(now)s FROM ax
        ), added AS (
            SELECT image_id, count(*) AS added, max(overlap) AS overlap FROM ax
            GROUP BY image_id
        ), counted AS ("""
    + COUNT_MANY_MORE_SQL.replace("{added}", "added")
    + """
        ), unleased AS ("""
    + LEASES_RELEASE_SQL.replace("{released}", "a")
    + """
        ), unskipped AS (
            DELETE FROM {skip} s USING a
            WHERE s.image_id = a.image_id AND s.annotator_id = a.annotator_id
        )
        SELECT id, image_id, annotator_id FROM a
    """,
    "unlease": LEASE_RELEASE_SQL,
    "unskip": "DELETE FROM {skip} WHERE image_id = %(image)s AND annotator_id = %(me)s",
}


@dataclass(frozen=True)
class Held:
    """What the annotator holds on an image, and the image's count and gold mark.

    ``lease`` is any lease of theirs on it, ``lease_live`` one not yet expired; the
    suggestion fields are what that lease handed out with the image.
    ``extra_annotations`` is how many annotators adaptive overlap asked for beyond the
    project's overlap; ``grid`` whether the lease (or, without one, the skip) was handed
    out on a grid page.
    """

    project_id: int
    annotation_id: int | None
    lease: bool
    lease_live: bool
    suggested_by: int | None
    suggested_label_ids: list[int] | None
    suggestion_withheld: bool
    skip: bool
    annotation_count: int
    gold: bool
    extra_annotations: int = 0
    grid: bool = False


@functools.cache
def _tables(vendor: str) -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "image": quote(Image._meta.db_table),
        "annotation": quote(Annotation._meta.db_table),
        "labels": quote(Annotation.labels.through._meta.db_table),
        "revision": quote(AnnotationRevision._meta.db_table),
        "skip": quote(Skip._meta.db_table),
        "lease": quote(Assignment._meta.db_table),
        "final": quote(FinalLabel._meta.db_table),
        "lock": "FOR UPDATE OF i" if vendor == "postgresql" else "",
    }


@functools.cache
def _rendered(name: str, vendor: str) -> str:
    return _STATEMENTS[name].format(**_tables(vendor))


def _run(name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(_rendered(name, connection.vendor), params)
        return cursor.fetchall() if cursor.description else []


def image_lock_held(image_id: int, annotator_id: int, now: datetime) -> Held | None:
    """Lock the image's row and read what the annotator holds on it; None if no such image."""
    now_value = connection.ops.adapt_datetimefield_value(now)
    rows = _run("lock", {"image": image_id, "me": annotator_id, "now": now_value})
    if not rows:
        return None
    project_id, annotation_id, lease, live, suggested_by, suggested, withheld = rows[0][:7]
    skip, count, gold, extra, grid = rows[0][7:]
    if isinstance(suggested, str):  # SQLite hands JSON back as text
        suggested = json.loads(suggested)
    return Held(
        project_id=int(project_id),
        annotation_id=annotation_id,
        lease=bool(lease),
        lease_live=bool(live),
        suggested_by=suggested_by,
        suggested_label_ids=suggested,
        suggestion_withheld=bool(withheld),
        skip=bool(skip),
        annotation_count=int(count),
        gold=bool(gold),
        extra_annotations=int(extra),
        grid=bool(grid),
    )


def annotation_create(
    *,
    project_id: int,
    image_id: int,
    annotator_id: int,
    label_ids: Sequence[int],
    time_spent_ms: int | None,
    suggested_by: int | None,
    accepted: bool,
    shown: bool,
    withheld: bool,
    grid: bool,
    overlap: int,
    now: datetime,
    held: Held,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> int | None:
    """Write a new annotation with its labels and first revision, count it on the image and
    drop the annotator's lease and skip of it (``held``); returns the annotation's id.

    The annotation's dates are ``now`` unless given (a recorded annotation keeps those of
    where it was made); its revision's is ``now``.

    The caller holds the image's row lock. PostgreSQL does it all in one statement (one
    round trip, one plan); SQLite, in process, in a few. Returns None, having written
    nothing, when the annotator's annotation of the image exists after all: a concurrent
    request wrote it after the snapshot of ``image_lock_held`` and before its lock.

    Database triggers do the rest in the same statements: ``annotations_revision_history``
    (migration annotations 0005) logs the change, ``images_counts_update`` (images 0002, 0008)
    moves the image's counts. The image's own count is its queue state's writer's
    statement (``images.queue_state``), which PostgreSQL's one statement embeds.
    """
    params = {
        "project": project_id,
        "image": image_id,
        "me": annotator_id,
        "time_spent_ms": time_spent_ms,
        "suggested_by": suggested_by,
        "accepted": accepted,
        "shown": shown,
        "withheld": withheld,
        "grid": grid,
        "now": connection.ops.adapt_datetimefield_value(now),
        "created_at": connection.ops.adapt_datetimefield_value(created_at or now),
        "updated_at": connection.ops.adapt_datetimefield_value(updated_at or now),
        "overlap": overlap,
        "label_ids": json.dumps(sorted(label_ids)),
    }
    if connection.vendor == "postgresql":
        rows = _run("create", {**params, "labels": sorted(label_ids)})
        return int(rows[0][0]) if rows else None
    rows = _run("annotation", params)
    if not rows:
        return None
    [(annotation_id,)] = rows
    marks = ", ".join(["(%s, %s)"] * len(label_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_tables(connection.vendor)['labels']} (annotation_id, label_id) "
            f"VALUES {marks}",
            [value for label_id in label_ids for value in (annotation_id, label_id)],
        )
    queue_state.image_count_one_more(image_id=image_id, overlap=overlap)
    _run("revision", {**params, "annotation": annotation_id})
    held_release(image_id=image_id, annotator_id=annotator_id, lease=held.lease, skip=held.skip)
    return int(annotation_id)


@dataclass(frozen=True)
class NewRecord:
    """A new annotation of ``annotations_create_many``: its labels and, where it was made
    elsewhere, its dates (None: now)."""

    image_id: int
    annotator_id: int
    label_ids: list[int]
    time_spent_ms: int | None
    created_at: datetime | None
    updated_at: datetime | None


def annotations_create_many(
    *, project_id: int, overlap: int, records: Sequence[NewRecord], now: datetime
) -> dict[tuple[int, int], int]:
    """Write these new annotations (PostgreSQL) as ``annotation_create`` writes each, with
    what the annotator holds on the image read as ``image_lock_held`` reads it; returns the
    new annotations' ids by (image, annotator). ``overlap`` is the project's. The caller
    holds the images' row locks, and no annotator has an annotation of their image: one
    that has is left out of what is returned, having written nothing."""
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "project": project_id,
        "overlap": overlap,
        "now": adapt(now),
        "images": [r.image_id for r in records],
        "mes": [r.annotator_id for r in records],
        "times": [r.time_spent_ms for r in records],
        "created": [adapt(r.created_at or now) for r in records],
        "updated": [adapt(r.updated_at or r.created_at or now) for r in records],
        "label_ids": [json.dumps(sorted(r.label_ids)) for r in records],
    }
    return {(image, me): int(pk) for pk, image, me in _run("create_many", params)}


def revision_insert(
    *, annotation_id: int, label_ids: Sequence[int], time_spent_ms: int | None, now: datetime
) -> None:
    """Keep the annotation's labels as saved now, in its history.

    The database trigger ``annotations_revision_history`` (migration 0005) writes the
    ``LabelChange`` row for it in the same statement.
    """
    params = {
        "annotation": annotation_id,
        "label_ids": json.dumps(sorted(label_ids)),
        "time_spent_ms": time_spent_ms,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    _run("revision", params)


def held_release(*, image_id: int, annotator_id: int, lease: bool, skip: bool) -> None:
    """Drop the annotator's lease and skip of the image (what labelling it ends)."""
    params = {"image": image_id, "me": annotator_id}
    if lease:
        _run("unlease", params)
    if skip:
        _run("unskip", params)
