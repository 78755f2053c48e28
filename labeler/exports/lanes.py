"""Which queue an export waits in, and how many exports it waits behind.

A zip holds every photo's bytes and takes minutes; a JSON, CSV or COCO file of a few
thousand images takes a second. Small exports therefore have a lane of their own (their
own task name, which the embedded server runs on a thread of its own: ``labeler.jobs``),
so they never wait behind a zip. Small: a text format of at most
``LABELER_EXPORT_DIRECT_MAX_IMAGES`` images, the same that may be downloaded directly.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from labeler.exports.formats import exporter_get
from labeler.exports.models import Export, ExportStatus
from labeler.task_names import Task

ACTIVE = (ExportStatus.QUEUED, ExportStatus.RUNNING)


def export_is_small(*, format: str, total: int) -> bool:
    """Whether an export of this format and this many images takes the small lane."""
    archive = exporter_get(format).content_type == "application/zip"
    return not archive and total <= settings.LABELER_EXPORT_DIRECT_MAX_IMAGES


def export_lane(*, format: str, total: int) -> str:
    """The task that writes such an export: its lane."""
    return Task.EXPORT_RUN_SMALL if export_is_small(format=format, total=total) else Task.EXPORT_RUN


def export_waits_behind(exports: Iterable[Export]) -> dict[int, int]:
    """For each queued export among these, how many exports of its lane (of any project)
    were started before it and are still queued or running."""
    queued = [export for export in exports if export.status == ExportStatus.QUEUED]
    if not queued:
        return {}
    ahead = list(
        Export.objects.filter(status__in=ACTIVE, pk__lt=max(e.pk for e in queued))
        .order_by("pk")
        .values_list("pk", "format", "total")
    )
    behind: dict[int, int] = {}
    for export in queued:
        lane = export_lane(format=export.format, total=export.total)
        behind[export.pk] = sum(
            1
            for pk, fmt, total in ahead
            if pk < export.pk and export_lane(format=fmt, total=total) == lane
        )
    return behind
