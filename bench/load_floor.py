"""The floor: the queue's work as bare SQL through psycopg2, with no web layer.

Each simulated annotator holds one connection and loops over one transaction: lock the
best open image no one else holds (``FOR UPDATE SKIP LOCKED``), insert an annotation and
its label row, count it on the image, commit. That is the least any implementation of
"hand out an image, store its label" must do in PostgreSQL, so the site's loop rate is
reported as a share of it. Run by the same process pool as the HTTP load.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg2

from bench.load_client import Plan, Tally, threads_run

_PICK = (
    "SELECT id FROM images_image WHERE project_id = %(project)s AND NOT is_complete "
    "ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)
# With overlap above 1 an annotator must not get an image they labelled already.
_PICK_UNSEEN = (
    "SELECT id FROM images_image i WHERE project_id = %(project)s AND NOT is_complete "
    "AND NOT EXISTS (SELECT 1 FROM annotations_annotation a "
    "  WHERE a.image_id = i.id AND a.annotator_id = %(user)s) "
    "ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_ANNOTATE = (
    "INSERT INTO annotations_annotation (project_id, image_id, annotator_id, time_spent_ms, "
    "suggestion_accepted, created_at, updated_at) "
    "VALUES (%(project)s, %(image)s, %(user)s, 1000, false, now(), now()) RETURNING id"
)
_LABEL = (
    "INSERT INTO annotations_annotation_labels (annotation_id, label_id) "
    "VALUES (%(annotation)s, %(label)s)"
)
_COUNT = (
    "UPDATE images_image SET annotation_count = annotation_count + 1, "
    "is_complete = annotation_count + 1 >= %(overlap)s WHERE id = %(image)s"
)


class FloorAnnotator:
    """One connection looping over the floor's transaction until the deadline."""

    def __init__(self, plan: Plan, user_id: int) -> None:
        self.plan = plan
        self.user_id = user_id
        self.label_ids = plan.label_ids
        self.connection = psycopg2.connect(plan.database_url)
        self.tally = Tally()

    def run(self, deadline: float) -> None:
        pick = _PICK if self.plan.overlap == 1 else _PICK_UNSEEN
        values: dict[str, Any] = {
            "project": self.plan.project_id,
            "user": self.user_id,
            "overlap": self.plan.overlap,
        }
        loops = 0
        try:
            with self.connection.cursor() as cursor:
                while time.monotonic() < deadline and loops < self.plan.max_loops:
                    started = time.perf_counter()
                    cursor.execute(pick, values)
                    row = cursor.fetchone()
                    if row is None:
                        self.connection.rollback()
                        self.tally.exhausted += 1
                        break
                    values["image"] = row[0]
                    cursor.execute(_ANNOTATE, values)
                    values["annotation"] = cursor.fetchone()[0]
                    values["label"] = self.label_ids[row[0] % len(self.label_ids)]
                    cursor.execute(_LABEL, values)
                    cursor.execute(_COUNT, values)
                    self.connection.commit()
                    loops += 1
                    self.tally.acknowledged += 1
                    self.tally.created += 1
                    self.tally.timed("loop", (time.perf_counter() - started) * 1000)
        except psycopg2.Error as exc:
            self.tally.error("loop", f"{type(exc).__name__}: {exc}")
        finally:
            self.tally.ended = time.monotonic()
            self.connection.close()


def floor_process(
    plan: Plan, user_ids: list[int], ready: Any, start: Any, deadline: Any, results: Any
) -> None:
    """A floor process: one connection and thread per annotator (user id)."""
    try:
        workers = [FloorAnnotator(plan, user_id) for user_id in user_ids]
        results.put(threads_run(workers, ready, start, deadline))
    except BaseException as exc:
        results.put(exc)
        raise
