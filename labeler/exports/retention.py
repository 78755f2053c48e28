"""Old exports go: past their project's ``export_keep_days`` (null: the server's
``LABELER_EXPORT_KEEP_DAYS``), or beyond a project's newest ``LABELER_EXPORT_KEEP_LAST``;
0 turns either server rule off (a project's own days still apply).

Only ended exports (done or failed) are ever deleted: a queued or running one is someone's
file on its way. Beat runs ``exports_purge`` hourly, and each export that ends runs it
too, so a server without beat (the embedded default) keeps to the same rules.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeler import jobs
from labeler.exports.models import Export, ExportStatus
from labeler.task_names import Task

ENDED = (ExportStatus.DONE, ExportStatus.FAILED)


def exports_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the ended exports the settings no longer keep, rows and files; returns how many."""
    doomed = _too_old(now or timezone.now()) | _beyond_last()
    if not doomed:
        return 0
    return _delete(doomed)


def _too_old(now: dt.datetime) -> set[int]:
    """Ended exports past their project's days: one statement for each distinct setting."""
    ended = Export.objects.filter(status__in=ENDED).alias(
        ended_at=Coalesce("finished_at", "created_at")
    )
    doomed: set[int] = set()
    server = settings.LABELER_EXPORT_KEEP_DAYS
    if server > 0:
        doomed.update(
            ended.filter(
                project__export_keep_days__isnull=True,
                ended_at__lt=now - timedelta(days=server),
            ).values_list("pk", flat=True)
        )
    own = Export.objects.filter(
        status__in=ENDED, project__export_keep_days__isnull=False
    ).values_list("project__export_keep_days", flat=True)
    for days in sorted({days for days in own if days is not None}):
        doomed.update(
            ended.filter(
                project__export_keep_days=days, ended_at__lt=now - timedelta(days=days)
            ).values_list("pk", flat=True)
        )
    return doomed


def _beyond_last() -> set[int]:
    keep = settings.LABELER_EXPORT_KEEP_LAST
    if keep <= 0:
        return set()
    ended = Export.objects.filter(status__in=ENDED)
    crowded = (
        ended.values("project_id")
        .annotate(count=Count("pk"))
        .filter(count__gt=keep)
        .values_list("project_id", flat=True)
    )
    doomed: set[int] = set()
    for project_id in crowded:
        newest_first = ended.filter(project_id=project_id).order_by("-pk")
        doomed.update(newest_first.values_list("pk", flat=True)[keep:])
    return doomed


@transaction.atomic
def _delete(ids: set[int]) -> int:
    # Still ended: nothing turns an ended export back into a queued one, but the status
    # is checked again by the statement that deletes, whatever happened meanwhile.
    rows = Export.objects.filter(pk__in=ids, status__in=ENDED)
    names = [name for name in rows.values_list("file", flat=True) if name]
    deleted, _ = rows.delete()
    if names:
        jobs.enqueue(Task.STORAGE_DELETE_FILES, names)
    return deleted
