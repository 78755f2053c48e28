"""Scheduling the background refresh of a project's final labels and quality caches.

Annotation writes call this, so it imports nothing of the agreement domain: only the
cache, the settings and the job queue.

A burst of writes costs one refresh that sees all of them. The first write committed
after a refresh adds a key to the shared cache for ``AGREEMENT_REFRESH_SECONDS`` and
schedules the task a second after the key expires; writes committed while the key
lives ride on that run, which starts after every one of them committed. With no
broker the web server waits the countdown out on its task thread (``labeler.jobs``), as
a worker would; where tasks run inline (commands, tests) the task runs at once, so
there writes within the window after a refresh wait for the next write after it.

When the cache or the broker cannot be reached the project is marked
``agreement_refresh_due`` instead, and ``agreement_refresh_overdue`` (run by beat)
refreshes it once they are back: no label is left out of the final labels for long.
Readers do not wait for either: ``final_labels.final_labels_current`` refreshes at once
when labels changed since the last refresh.
"""

from __future__ import annotations

import contextlib
import logging
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from labeler import jobs
from labeler.projects.models import Project

logger = logging.getLogger(__name__)

TASK = "worker.tasks.agreement_refresh"
MARGIN_SECONDS = 1  # the run starts this long after its key expired (clocks differ a little)


def refresh_key(project_id: int) -> str:
    """The cache key that marks a refresh of the project as scheduled."""
    return f"agreement-refresh:{project_id}"


def agreement_refresh_schedule(*, project_id: int) -> None:
    """Refresh the project's final labels and quality caches soon after this transaction commits.

    Nothing is scheduled for a transaction that rolls back; a cache or broker failure is
    logged, never turned into an error for the write that has committed.
    """
    transaction.on_commit(partial(_schedule, project_id), robust=True)


def _schedule(project_id: int) -> None:
    seconds = settings.AGREEMENT_REFRESH_SECONDS
    key = refresh_key(project_id)
    try:
        # Added after the commit: a write that finds the key is committed before the run reads.
        if not cache.add(key, 1, timeout=seconds):
            return
    except jobs.UNAVAILABLE as exc:
        _due(project_id, exc)  # the cache is down: one timeout, not a second on a delete
        return
    try:
        jobs.send_now(seconds + MARGIN_SECONDS, TASK, project_id)
    except jobs.UNAVAILABLE as exc:
        _due(project_id, exc)
        with contextlib.suppress(*jobs.UNAVAILABLE):
            cache.delete(key)  # the next write tries again, if the broker is back


def _due(project_id: int, exc: Exception) -> None:
    logger.warning("Agreement refresh of project %s not scheduled (%s): due", project_id, exc)
    agreement_refresh_due_mark(project_id=project_id)


def agreement_refresh_due_ids() -> list[int]:
    """Projects whose refresh could not be scheduled."""
    due = Project.objects.filter(agreement_refresh_due=True).order_by("pk")
    return list(due.values_list("pk", flat=True))


def agreement_refresh_due_take(*, project_id: int) -> bool:
    """Take the project off the due list; False if it is not on it (another run took it)."""
    due = Project.objects.filter(pk=project_id, agreement_refresh_due=True)
    return due.update(agreement_refresh_due=False) == 1


def agreement_refresh_due_mark(*, project_id: int) -> None:
    """Put the project on the due list: beat's next ``agreement_refresh_overdue`` runs it.

    A project already on it is not written again (every submit of an outage lands here).
    """
    Project.objects.filter(pk=project_id, agreement_refresh_due=False).update(
        agreement_refresh_due=True
    )
