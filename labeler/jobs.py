"""Enqueue background work by task name, so the domain never imports the task modules.

With no broker configured (the embedded default) Celery runs tasks in-process, by
configuration; with one, they go to the queue their route names.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction

from worker.celery_app import app


@functools.cache
def _register_tasks() -> None:
    # Celery's loader imports the modules named in `imports` (worker.tasks).
    app.loader.import_default_modules()


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Send the named task once the current transaction commits (at once outside one)."""
    _register_tasks()
    signature = app.signature(task_name, args=args, kwargs=kwargs)
    # robust: a broker hiccup is logged, never turned into an error for a committed write.
    transaction.on_commit(signature.delay, robust=True)


def enqueue_in(seconds: float, task_name: str, *args: Any) -> None:
    """Send the named task to run ``seconds`` after the current transaction commits.

    In-process (no broker) it runs at once: there is no worker to wait for it.
    """
    _register_tasks()
    signature = app.signature(task_name, args=args, countdown=seconds)
    transaction.on_commit(signature.delay, robust=True)
