"""A project's annotations as arrays: two aggregated queries, then numpy.

Each column (annotation, image, annotator, time, time spent; and annotation, label from
the labels table) comes back from the database as one comma-separated string, so a
million annotations cross the driver as a few values, not a million rows, and numpy
parses them in C. Labels are read by the project's label ids rather than joined to the
annotations, and matched to them here by annotation id: PostgreSQL's hash join of the
two million-row tables cost more than the second query and the matching together (see
docs/benchmarks.md, which also records the shapes measured slower than string_agg).
Ids become row and column numbers through lookup tables rather than sorts.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection

from labeler.projects.models import Project

IntArray = npt.NDArray[np.int64]


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
    time_spent_ms: IntArray  # per rating, 0 where unknown

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
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        annotations, labels = _fetch_side_by_side(project.pk, label_ids)
    else:
        annotations, labels = _fetch_in_turn(project.pk, label_ids)
    annotation_id, image_col, annotator_col, at_col, spent_col = annotations
    owner, label_col = labels
    # Each label row's annotation, as an index into the annotation columns.
    which = _positions(annotation_id, owner)
    found = which >= 0
    which, label_col = which[found], label_col[found]
    image_ids, rows = _dense_index(image_col[which])
    annotator_ids, cols = _dense_index(annotator_col[which])
    label_index = _label_index(label_ids, label_col)
    shape = (len(image_ids), len(annotator_ids))
    cells = rows * shape[1] + cols
    rated_at = np.zeros(shape, dtype=np.int64)
    rated_at.reshape(-1)[cells] = at_col[which]
    time_spent = np.zeros(shape, dtype=np.int64)
    time_spent.reshape(-1)[cells] = spent_col[which]
    codes = np.full(shape, -1, dtype=np.int64)
    label_sets = None
    if project.multi_label:
        label_sets = np.full((*shape, len(label_ids)), -1, dtype=np.int8)
        label_sets[rows, cols, :] = 0
        label_sets[rows, cols, label_index] = 1
    else:
        codes.reshape(-1)[cells] = label_index
    return Ratings(
        image_ids=image_ids.astype(np.int64),
        annotator_ids=annotator_ids.astype(np.int64),
        label_ids=label_ids,
        codes=codes,
        label_sets=label_sets,
        rated_at=rated_at,
        time_spent_ms=time_spent,
    )


def _fetch_in_turn(project_pk: int, label_ids: list[int]) -> tuple[list[IntArray], list[IntArray]]:
    """The annotation columns and the label columns, one query after the other."""
    vendor = connection.vendor
    labels = label_ids if vendor == "postgresql" else json.dumps(label_ids)
    with connection.cursor() as cursor, ThreadPoolExecutor(max_workers=1) as pool:
        cursor.execute(_ANNOTATIONS[vendor], [project_pk])
        # The driver lets go of the GIL while it waits for the second query, so the first
        # one's columns are parsed meanwhile on another thread.
        parsed = pool.submit(_columns, cursor.fetchone())
        cursor.execute(_LABELS[vendor], [labels])
        return parsed.result(), _columns(cursor.fetchone())


def _fetch_side_by_side(
    project_pk: int, label_ids: list[int]
) -> tuple[list[IntArray], list[IntArray]]:
    """The same two queries at once, the labels' on a second, short-lived connection.

    PostgreSQL runs each connection's query in its own process, so on a server with two
    cores the pair takes about as long as the longer one (see docs/benchmarks.md).
    Outside a transaction each query sees the data as it is when it starts whether they
    run in turn or together, so the result is the same; inside one (a test, an atomic
    request) a second connection would not see the transaction's writes, so
    ``ratings_load`` queries in turn there.
    """
    second = connection.get_new_connection(connection.get_connection_params())
    try:
        second.autocommit = True
        with ThreadPoolExecutor(max_workers=1) as pool:
            labels = pool.submit(_labels_row, second, label_ids)
            with connection.cursor() as cursor:
                cursor.execute(_ANNOTATIONS["postgresql"], [project_pk])
                annotations = _columns(cursor.fetchone())
            return annotations, _columns(labels.result())
    finally:
        second.close()


def _labels_row(raw_connection: Any, label_ids: list[int]) -> tuple[str | None, ...]:
    with raw_connection.cursor() as cursor:
        cursor.execute(_LABELS["postgresql"], [label_ids])
        row: tuple[str | None, ...] = cursor.fetchone()
        return row


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


def _dense_index(column: IntArray) -> tuple[IntArray, IntArray]:
    """The sorted distinct ids of ``column`` and each entry's index among them.

    What ``np.unique(column, return_inverse=True)`` gives, by a table over the range of
    ids (linear time) when that range is not much larger than the column, else by sorting.
    """
    if column.size == 0:
        return column, column
    low, high = int(column.min()), int(column.max())
    if high - low >= 4 * column.size + 1024:
        ids, inverse = np.unique(column, return_inverse=True)
        return ids, inverse.reshape(-1)
    present = np.zeros(high - low + 1, dtype=bool)
    present[column - low] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, rank[column - low]


def _label_index(label_ids: list[int], label_col: IntArray) -> IntArray:
    """Map label ids to their position in the project's label order."""
    if not label_ids:
        return np.zeros(len(label_col), dtype=np.int64)
    ids = np.asarray(label_ids, dtype=np.int64)
    order = np.argsort(ids)
    found = np.searchsorted(ids[order], label_col)
    return order[np.clip(found, 0, len(ids) - 1)].astype(np.int64)
