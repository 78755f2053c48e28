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
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from labeler import jobs

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
    # Added after the commit: a write that finds the key is committed before the run reads.
    if cache.add(refresh_key(project_id), 1, timeout=seconds):
        jobs.enqueue_in(seconds + MARGIN_SECONDS, TASK, project_id)
