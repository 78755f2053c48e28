"""A project's annotations as arrays: one aggregated query, then numpy.

Each of the four columns (image, annotator, label, time) comes back from the database as
one comma-separated string, so a million annotations cross the driver as four values,
not a million rows, and numpy parses them in C.
"""

from __future__ import annotations

from dataclasses import dataclass

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


_SQL = {
    "postgresql": """
        SELECT string_agg(a.image_id::text, ','), string_agg(a.annotator_id::text, ','),
               string_agg(al.label_id::text, ','),
               string_agg(EXTRACT(EPOCH FROM a.updated_at)::bigint::text, ','),
               string_agg(COALESCE(a.time_spent_ms, 0)::text, ',')
        FROM annotations_annotation a
        JOIN annotations_annotation_labels al ON al.annotation_id = a.id
        WHERE a.project_id = %s
    """,
    "sqlite": """
        SELECT group_concat(a.image_id, ','), group_concat(a.annotator_id, ','),
               group_concat(al.label_id, ','),
               group_concat(CAST(strftime('%%s', a.updated_at) AS INTEGER), ','),
               group_concat(COALESCE(a.time_spent_ms, 0), ',')
        FROM annotations_annotation a
        JOIN annotations_annotation_labels al ON al.annotation_id = a.id
        WHERE a.project_id = %s
    """,
}


def _column(text: str | None) -> IntArray:
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


def ratings_load(project: Project) -> Ratings:
    """Every annotation of the project (one row per annotation and label), as arrays."""
    label_ids = list(project.labels.order_by("position", "id").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(_SQL[connection.vendor], [project.pk])
        row = cursor.fetchone()
    image_col, annotator_col, label_col, at_col, spent_col = (_column(v) for v in row)
    image_ids, rows = np.unique(image_col, return_inverse=True)
    annotator_ids, cols = np.unique(annotator_col, return_inverse=True)
    label_index = _label_index(label_ids, label_col)
    shape = (len(image_ids), len(annotator_ids))
    rated_at = np.zeros(shape, dtype=np.int64)
    rated_at[rows, cols] = at_col
    time_spent = np.zeros(shape, dtype=np.int64)
    time_spent[rows, cols] = spent_col
    codes = np.full(shape, -1, dtype=np.int64)
    label_sets = None
    if project.multi_label:
        label_sets = np.full((*shape, len(label_ids)), -1, dtype=np.int8)
        label_sets[rows, cols, :] = 0
        label_sets[rows, cols, label_index] = 1
    else:
        codes[rows, cols] = label_index
    return Ratings(
        image_ids=image_ids.astype(np.int64),
        annotator_ids=annotator_ids.astype(np.int64),
        label_ids=label_ids,
        codes=codes,
        label_sets=label_sets,
        rated_at=rated_at,
        time_spent_ms=time_spent,
    )


def _label_index(label_ids: list[int], label_col: IntArray) -> IntArray:
    """Map label ids to their position in the project's label order."""
    if not label_ids:
        return np.zeros(len(label_col), dtype=np.int64)
    ids = np.asarray(label_ids, dtype=np.int64)
    order = np.argsort(ids)
    found = np.searchsorted(ids[order], label_col)
    return order[np.clip(found, 0, len(ids) - 1)].astype(np.int64)
