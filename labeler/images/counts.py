"""A project's image counts: read from the counters the database keeps (see ImageCounter),
or counted from the image rows where an exact figure is wanted."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Sum

from labeler.images.models import Image, ImageCounter


@dataclass(frozen=True)
class ImageCounts:
    images: int
    complete: int
    started: int  # not complete, with at least one annotation
    annotations: int


def image_counts(project_id: int) -> ImageCounts:
    """The project's counts in one query over at most ``ImageCounter.SHARDS`` rows."""
    sums = ImageCounter.objects.filter(project_id=project_id).aggregate(
        images=Sum("images"),
        complete=Sum("complete"),
        started=Sum("started"),
        annotations=Sum("annotations"),
    )
    return ImageCounts(**{name: int(value or 0) for name, value in sums.items()})


def image_count_exact(project_id: int) -> int:
    """How many images the project holds, counted from the image rows themselves."""
    return Image.objects.filter(project_id=project_id).count()


# The temporary table the counters' triggers append to while a transaction holds its
# counts (migration images/0015), and the columns they count.
_HELD = "images_counts_held"
_COUNTED = ("images", "complete", "started", "annotations")


@contextmanager
def counts_held() -> Iterator[None]:
    """Hold the image-count deltas of what is written inside until it ends, then add them
    to the counters in one statement (PostgreSQL; on SQLite, which updates its counter
    rows in place, the counts follow each write as always).

    For a transaction that writes many images of one project (an import): each write
    would otherwise update one of the project's 8 counter rows again, and every version
    of a row the transaction left is stepped over by its next update, so the writes
    slow down as the transaction grows. Runs in a savepoint of its own: what it holds is
    undone with what was written, and nothing is ever counted twice or lost. Inside it,
    ``image_counts`` does not yet include what was written; other sessions' counts are
    never held. Meanwhile other writers of the project's images no longer wait on its
    counter rows; at its end it takes them as any writer does, and a transaction that
    holds one of them while waiting for a row this one locked makes a deadlock, which
    PostgreSQL breaks by undoing one of the two whole.
    """
    with transaction.atomic():
        if connection.vendor != "postgresql" or getattr(connection, "_labeler_counts_held", False):
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_HELD} (project_id bigint NOT NULL, "
                "shard integer NOT NULL, images bigint NOT NULL, complete bigint NOT NULL, "
                "started bigint NOT NULL, annotations bigint NOT NULL) ON COMMIT DELETE ROWS"
            )
            cursor.execute("SELECT set_config('labeler.counts_held', 'on', true)")
        connection._labeler_counts_held = True  # type: ignore[attr-defined]
        try:
            yield
        finally:
            connection._labeler_counts_held = False  # type: ignore[attr-defined]
        columns = ", ".join(_COUNTED)
        sums = ", ".join(f"SUM({column})" for column in _COUNTED)
        added = ", ".join(f"{column} = c.{column} + excluded.{column}" for column in _COUNTED)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('labeler.counts_held', 'off', true)")
            cursor.execute(
                f"INSERT INTO images_imagecounter AS c (project_id, shard, {columns}) "
                f"SELECT project_id, shard, {sums} FROM pg_temp.{_HELD} "
                "GROUP BY project_id, shard ORDER BY project_id, shard "
                f"ON CONFLICT (project_id, shard) DO UPDATE SET {added}"
            )
            cursor.execute(f"DELETE FROM pg_temp.{_HELD}")
