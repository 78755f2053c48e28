"""A project's annotations as arrays: aggregated queries, then numpy.

Each column (image, annotator, time, time spent, label) comes back from the database as
one comma-separated string, so a million annotations cross the driver as a few values,
not a million rows, and numpy parses them in C.

Outside a transaction on PostgreSQL the ratings are read in ranges of annotation ids, on
two connections that share one snapshot, each range parsed here while the next ones
run; within a range the server merges the annotations with their label rows along both
tables' id indexes. Elsewhere (SQLite, or inside a transaction, where a second connection
would not see its writes) two queries run in turn, the labels read by the project's
label ids and matched to the annotations here by annotation id: the join of the whole
two tables at once, which PostgreSQL made a hash join, cost more than that (see
docs/benchmarks.md, which also records the shapes measured slower than string_agg).
Ids become row and column numbers through lookup tables rather than sorts.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Queue
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import DatabaseError, connection

from labeler.projects.models import Project

IntArray = npt.NDArray[np.int64]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ratings:
    """Who gave which label to which image, as dense arrays.

    ``codes[i, a]`` is the index (into ``label_ids``) of the label annotator ``a`` gave
    image ``i``, or -1 when they did not label it (single-label projects). For
    multi-label projects ``label_sets[i, a, l]`` is 1 when annotator ``a`` gave image
    ``i`` label ``l``, 0 when they labelled the image without it, -1 when they did not
    label the image.
    """

    image_ids: IntArray
    annotator_ids: IntArray
    label_ids: list[int]
    codes: IntArray
    label_sets: npt.NDArray[np.int8] | None
    rated_at: IntArray  # unix seconds of each rating, 0 where none
    # Per rating, 0 where unknown; int32, the database column's range (half the memory).
    time_spent_ms: npt.NDArray[np.int32]

    @property
    def k(self) -> int:
        return len(self.label_ids)


# Times are whole seconds, rounded down on both databases (date_part's float is much
# cheaper to make than EXTRACT's numeric).
_ANNOTATIONS = {
    "postgresql": """
        SELECT string_agg(a.id::text, ','), string_agg(a.image_id::text, ','),
               string_agg(a.annotator_id::text, ','),
               string_agg(floor(date_part('epoch', a.updated_at))::bigint::text, ','),
               string_agg(COALESCE(a.time_spent_ms, 0)::text, ',')
        FROM annotations_annotation a
        WHERE a.project_id = %s
    """,
    "sqlite": """
        SELECT group_concat(a.id, ','), group_concat(a.image_id, ','),
               group_concat(a.annotator_id, ','),
               group_concat(CAST(strftime('%%s', a.updated_at) AS INTEGER), ','),
               group_concat(COALESCE(a.time_spent_ms, 0), ',')
        FROM annotations_annotation a
        WHERE a.project_id = %s
    """,
}
# Labels belong to one project, so the project's label ids select its annotations' labels.
_LABELS = {
    "postgresql": """
        SELECT string_agg(al.annotation_id::text, ','), string_agg(al.label_id::text, ',')
        FROM annotations_annotation_labels al
        WHERE al.label_id = ANY(%s)
    """,
    "sqlite": """
        SELECT group_concat(al.annotation_id, ','), group_concat(al.label_id, ',')
        FROM annotations_annotation_labels al
        WHERE al.label_id IN (SELECT value FROM json_each(%s))
    """,
}


def _column(text: str | None) -> IntArray:
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


def _columns(row: tuple[str | None, ...]) -> list[IntArray]:
    return [_column(text) for text in row]


def ratings_load(project: Project) -> Ratings:
    """Every labelled annotation of the project, as arrays (one entry per annotation and label).

    An annotation without any label is left out, as if it were not there.
    """
    label_ids = list(project.labels.order_by("position", "id").values_list("pk", flat=True))
    parts = None
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        try:
            connections = _connections_sharing_a_snapshot(CONNECTIONS)
        except DatabaseError as exc:
            # A pooler that sends each connection to another server, or a cap on
            # connections: the queries in turn on the request's own connection instead.
            logger.warning("Ratings read in turn: no connections sharing a snapshot (%s)", exc)
        else:
            parts = _fetch_side_by_side(connections, project.pk, label_ids)
    if parts is None:
        parts = [_fetch_in_turn(project.pk, label_ids)]
    # Each part: one entry per labelled rating, its image, annotator, time, time spent, label.
    image_ids, rows = _dense_index([part[0] for part in parts])
    annotator_ids, cols = _dense_index([part[1] for part in parts])
    shape = (len(image_ids), len(annotator_ids))
    rated_at = np.zeros(shape, dtype=np.int64)
    time_spent = np.zeros(shape, dtype=np.int32)
    # Filled narrow, then widened once: at 10 million ratings, writing them into an int64
    # array of 40 million cells cost 0.4 s of page faults, the int8 one and its copy 0.1 s.
    codes = np.full(shape, -1, dtype=np.int8 if len(label_ids) <= 127 else np.int64)
    label_sets = None
    if project.multi_label:
        label_sets = np.full((*shape, len(label_ids)), -1, dtype=np.int8)
    for part, part_rows, part_cols in zip(parts, rows, cols, strict=True):
        cells = part_rows * shape[1] + part_cols
        rated_at.reshape(-1)[cells] = part[2]
        # A longer time than the column holds can come only from SQLite: kept at its top.
        time_spent.reshape(-1)[cells] = np.minimum(part[3], np.iinfo(np.int32).max)
        label_index = _label_index(label_ids, part[4])
        if label_sets is not None:
            label_sets[part_rows, part_cols, :] = 0
            label_sets[part_rows, part_cols, label_index] = 1
        else:
            codes.reshape(-1)[cells] = label_index
    return Ratings(
        image_ids=image_ids.astype(np.int64),
        annotator_ids=annotator_ids.astype(np.int64),
        label_ids=label_ids,
        codes=codes.astype(np.int64, copy=False),
        label_sets=label_sets,
        rated_at=rated_at,
        time_spent_ms=time_spent,
    )


def _fetch_in_turn(project_pk: int, label_ids: list[int]) -> list[IntArray]:
    """The annotation columns and the label columns, one query after the other, matched
    by annotation id: one entry per labelled rating (``_RATED``'s columns)."""
    vendor = connection.vendor
    labels = label_ids if vendor == "postgresql" else json.dumps(label_ids)
    with connection.cursor() as cursor, ThreadPoolExecutor(max_workers=1) as pool:
        cursor.execute(_ANNOTATIONS[vendor], [project_pk])
        # The driver lets go of the GIL while it waits for the second query, so the first
        # one's columns are parsed meanwhile on another thread.
        parsed = pool.submit(_columns, cursor.fetchone())
        cursor.execute(_LABELS[vendor], [labels])
        owner, label = _columns(cursor.fetchone())
    annotation_id, *rest = parsed.result()
    which = _positions(annotation_id, owner)
    found = which >= 0
    return [column[which[found]] for column in rest] + [label[found]]


# Outside a transaction on PostgreSQL the ratings are read in this many ranges of
# annotation ids, spread over ``CONNECTIONS`` connections: each connection's query runs in
# a server process of its own, so the server's cores share the work, and each range is
# parsed here while the next ones run. Within a range both tables are read in id order,
# along their indexes, and merged: the ids never leave the server.
PARTS = 4
CONNECTIONS = 2
_RATED = """
    SELECT string_agg(a.image_id::text, ','), string_agg(a.annotator_id::text, ','),
           string_agg(floor(date_part('epoch', a.updated_at))::bigint::text, ','),
           string_agg(COALESCE(a.time_spent_ms, 0)::text, ','),
           string_agg(al.label_id::text, ',')
    FROM annotations_annotation a
    JOIN annotations_annotation_labels al ON al.annotation_id = a.id
    WHERE a.project_id = %(project)s AND al.label_id = ANY(%(labels)s)
      AND a.id BETWEEN %(low)s AND %(high)s AND al.annotation_id BETWEEN %(low)s AND %(high)s
"""
# The project's lowest and highest annotation id, from its annotators' own on the index of
# (project, annotator, id), its annotators found by skipping along that index: a few
# lookups a person. A plain min(id) and max(id) lets PostgreSQL walk the primary key from
# one end until it meets the project's first row: most of the table for a project whose
# annotations came after another's (0.8 s under a project of 10 million).
_ID_RANGE = """
    WITH RECURSIVE annotators(id) AS (
        (SELECT annotator_id FROM annotations_annotation WHERE project_id = %(project)s
         ORDER BY annotator_id LIMIT 1)
        UNION ALL
        SELECT (SELECT a.annotator_id FROM annotations_annotation a
                WHERE a.project_id = %(project)s AND a.annotator_id > annotators.id
                ORDER BY a.annotator_id LIMIT 1)
        FROM annotators WHERE annotators.id IS NOT NULL
    )
    SELECT min((SELECT min(a.id) FROM annotations_annotation a
                WHERE a.project_id = %(project)s AND a.annotator_id = annotators.id)),
           max((SELECT max(a.id) FROM annotations_annotation a
                WHERE a.project_id = %(project)s AND a.annotator_id = annotators.id))
    FROM annotators WHERE annotators.id IS NOT NULL
"""


def _connections_sharing_a_snapshot(count: int) -> list[Any]:
    """``count`` new connections, each in a read-only transaction that sees the database
    as of one moment: the first exports its snapshot, the others take it (as ``pg_dump
    --jobs`` does). Their errors are Django's (``DatabaseError``), as the request's own."""
    params = connection.get_connection_params()
    connections: list[Any] = []
    try:
        with connection.wrap_database_errors:
            snapshot = None
            for _ in range(count):
                raw = connection.get_new_connection(params)
                connections.append(raw)
                raw.set_session(isolation_level="REPEATABLE READ", readonly=True)
                with raw.cursor() as cursor:
                    # The ranges are the parallel plan: no workers of the server's own
                    # besides (they pass every row through the one that aggregates).
                    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                    if snapshot is None:
                        cursor.execute("SELECT pg_export_snapshot()")
                        snapshot = cursor.fetchone()[0]
                    else:
                        cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
    except BaseException:
        for raw in connections:
            raw.close()
        raise
    return connections


def _fetch_side_by_side(
    connections: list[Any], project_pk: int, label_ids: list[int]
) -> list[list[IntArray]]:
    """The ratings in ``PARTS`` ranges of annotation ids (each as ``_fetch_in_turn``
    gives them), read on ``connections`` (``_connections_sharing_a_snapshot``), which it
    closes: every range is read as of one moment, so the arrays are those of the queries
    in turn. Inside a transaction (a test, an atomic request) other connections would not
    see its writes, so ``ratings_load`` queries in turn there.
    """
    try:
        with connection.wrap_database_errors:
            return _ranges_read(connections, project_pk, label_ids)
    finally:
        for raw in connections:
            raw.close()


def _ranges_read(
    connections: list[Any], project_pk: int, label_ids: list[int]
) -> list[list[IntArray]]:
    with connections[0].cursor() as cursor:
        cursor.execute(_ID_RANGE, {"project": project_pk})
        low, high = cursor.fetchone()
    if low is None:
        return []
    step = (high - low) // PARTS + 1
    ranges = [(low + i * step, min(high, low + (i + 1) * step - 1)) for i in range(PARTS)]
    free: Queue[Any] = Queue()
    for raw in connections:
        free.put(raw)

    def read(id_range: tuple[int, int]) -> tuple[str | None, ...]:
        low, high = id_range
        raw = free.get()
        try:
            with raw.cursor() as cursor:
                arguments = {"project": project_pk, "labels": label_ids, "low": low, "high": high}
                cursor.execute(_RATED, arguments)
                row: tuple[str | None, ...] = cursor.fetchone()
                return row
        finally:
            free.put(raw)

    with ThreadPoolExecutor(max_workers=len(connections)) as pool:
        rows = [pool.submit(read, id_range) for id_range in ranges]
        try:
            # Each range is parsed here while the later ones are read.
            return [_columns(row.result()) for row in rows]
        except BaseException:
            # One range failed: the others are not started, and those running stop.
            pool.shutdown(wait=False, cancel_futures=True)
            for raw in connections:
                raw.cancel()
            raise


def _positions(ids: IntArray, wanted: IntArray) -> IntArray:
    """The index of each wanted id in ``ids`` (distinct), -1 where it is not there."""
    if ids.size == 0 or wanted.size == 0:
        return np.full(wanted.size, -1, dtype=np.int64)
    low, high = int(ids.min()), int(ids.max())
    if high - low < 4 * ids.size + 1024:
        table = np.full(high - low + 1, -1, dtype=np.int64)
        table[ids - low] = np.arange(ids.size)
        inside = (wanted >= low) & (wanted <= high)
        return np.where(inside, table[np.where(inside, wanted - low, 0)], -1)
    order = np.argsort(ids)
    found = np.searchsorted(ids[order], wanted).clip(0, ids.size - 1)
    return np.where(ids[order][found] == wanted, order[found], -1)


def _dense_index(columns: list[IntArray]) -> tuple[IntArray, list[IntArray]]:
    """The sorted distinct ids of the ``columns`` together and each entry's index among
    them, column by column.

    What ``np.unique(np.concatenate(columns), return_inverse=True)`` gives, by a table over
    the range of ids (linear time) when that range is not much larger than the columns,
    else by sorting; the columns are never copied end to end.
    """
    filled = [column for column in columns if column.size]
    if not filled:
        return np.zeros(0, dtype=np.int64), [np.zeros(0, dtype=np.int64) for _ in columns]
    low = min(int(column.min()) for column in filled)
    high = max(int(column.max()) for column in filled)
    if high - low >= 4 * sum(column.size for column in filled) + 1024:
        ids = np.unique(np.concatenate(filled))
        return ids, [np.searchsorted(ids, column) for column in columns]
    present = np.zeros(high - low + 1, dtype=bool)
    for column in filled:
        present[column - low] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, [rank[column - low] for column in columns]


def _label_index(label_ids: list[int], label_col: IntArray) -> IntArray:
    """Map label ids to their position in the project's label order."""
    if not label_ids:
        return np.zeros(len(label_col), dtype=np.int64)
    ids = np.asarray(label_ids, dtype=np.int64)
    order = np.argsort(ids)
    found = np.searchsorted(ids[order], label_col)
    return order[np.clip(found, 0, len(ids) - 1)].astype(np.int64)
