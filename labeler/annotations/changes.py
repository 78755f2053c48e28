"""What follows a change of an image's labels: one agreement refresh for a burst of them.

Every writer of labels calls ``labels_changed`` itself, in the transaction of its write:
the annotation services (a submit, a record, an undo, a bulk withdrawal) and the one
writer of final labels (``labeler.agreement.final_writes``). The refresh is a task of a
layer above (``labeler.flows.agreement_refresh``), sent by its name
(``labeler.task_names``), so this layer starts it without importing it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction

from labeler import cache_keys, jobs
from labeler.projects import services as project_services
from labeler.task_names import Task

logger = logging.getLogger(__name__)

MARGIN_SECONDS = 1  # a refresh starts this long after its key expired (clocks differ a little)
OUTAGE_SECONDS = 5  # after the cache failed, how long a project's changes skip it (marked due)


def labels_changed(*, project_id: int) -> None:
    """Refresh the project's final labels and quality caches soon after this transaction commits.

    A burst of changes costs one refresh that sees all of them. The first change committed
    after a refresh adds a key to the shared cache for ``AGREEMENT_REFRESH_SECONDS`` and
    schedules the task a second after the key expires; changes committed while the key
    lives ride on that run, which starts after every one of them committed. With no
    broker the web server waits the countdown out on its task thread (``labeler.jobs``),
    as a worker would; where tasks run inline (commands, tests) the task runs at once, so
    there changes within the window after a refresh wait for the next change after it.

    Nothing is scheduled for a transaction that rolls back; a cache or broker failure is
    logged and marks the project due (never an error for the write that has committed).
    """
    transaction.on_commit(partial(_refresh_schedule, project_id), robust=True)


def _refresh_schedule(project_id: int) -> None:
    seconds = settings.AGREEMENT_REFRESH_SECONDS
    key = cache_keys.agreement_refresh_scheduled(project_id)
    backend = caches["default"]
    down: dict[int, float] = backend.__dict__.setdefault("labeler_refresh_down_until", {})
    if time.monotonic() < down.get(project_id, 0.0):
        return  # the cache failed moments ago and the project is marked due: no timeout more
    try:
        # Added after the commit: a write that finds the key is committed before the run reads.
        if not cache.add(key, 1, timeout=seconds):
            return
    except jobs.UNAVAILABLE as exc:
        _refresh_due(project_id, exc)  # the cache is down: one timeout, not a second on a delete
        # The writes of one commit (an import's thousands of labels) each end here: the
        # next ones within OUTAGE_SECONDS skip the cache rather than wait out its timeout.
        down[project_id] = time.monotonic() + OUTAGE_SECONDS
        return
    try:
        jobs.send_now(seconds + MARGIN_SECONDS, Task.AGREEMENT_REFRESH, project_id)
    except jobs.UNAVAILABLE as exc:
        _refresh_due(project_id, exc)
        with contextlib.suppress(*jobs.UNAVAILABLE):
            cache.delete(key)  # the next write tries again, if the broker is back


def _refresh_due(project_id: int, exc: Exception) -> None:
    logger.warning("Agreement refresh of project %s not scheduled (%s): due", project_id, exc)
    project_services.agreement_refresh_due_mark(project_id=project_id)
