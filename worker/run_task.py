"""Run one task in a process of its own: ``python -m worker.run_task NAME ARGS_JSON``.

With no broker (the embedded default) the web server hands the tasks that load torch
(training, pre-labelling) to such a process (``labeler.jobs``): the web process never
holds torch and its memory, and its background thread goes on with thumbnails while a
model trains. What the task sends in turn (a pass's chunks, the queue's new order) runs
here too, inline. Exits 1 when the task failed (it has recorded why, as in a worker).

The parent passes the database it uses (``LABELER_TASK_DATABASE_NAME``), so that a child
of a test server works on the test database.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m worker.run_task NAME [ARGS_JSON]", file=sys.stderr)
        return 2
    name, args = argv[0], json.loads(argv[1]) if len(argv) == 2 else []
    app = child_app()
    result = app.signature(name, args=args).apply()
    return 1 if result.failed() else 0


def child_app() -> Celery:
    """Django set up on the parent's database, and the Celery app with every task loaded:
    what a child process of the web server (this one, or ``worker.run_resident``) runs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    import django
    from django.conf import settings

    database = os.environ.get("LABELER_TASK_DATABASE_NAME")
    if database:
        settings.DATABASES["default"]["NAME"] = database
    django.setup()
    from worker.celery_app import app

    app.loader.import_default_modules()
    return app


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
