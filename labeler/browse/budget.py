"""The time a filtered listing may take: within the budget, or a clear answer that it cannot.

Some filters cannot use an index (agreement, model disagreement, a file name's text): one
that matches nothing walks the whole project, seconds at 300,000 images, for every page,
count and bulk selection asked. Every evaluation of filtered images (a page, a neighbour,
a count, a selection's ids) runs inside ``filter_budget``: past
``LABELER_FILTER_BUDGET_MS`` the database stops the query (PostgreSQL's
``statement_timeout``; SQLite's progress handler) and the caller answers
``FilterTooSlow``, a 503 saying what to add. Nothing is written inside the budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection, transaction

from labeler.errors import DomainError

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by its timeout
SQLITE_STEPS = 1000  # virtual machine instructions between two looks at the clock


class FilterTooSlow(DomainError):
    """The filters could not be answered within the time budget."""

    status_code = 503
    code = "filter_too_slow"


def budget_ms() -> int:
    """Milliseconds a filtered listing may take (0: no limit)."""
    return int(settings.LABELER_FILTER_BUDGET_MS)


@contextmanager
def filter_budget() -> Iterator[None]:
    """Run the block's queries within the budget; raise FilterTooSlow past it."""
    limit = budget_ms()
    if limit <= 0:
        yield
        return
    try:
        if connection.vendor == "postgresql":
            with _postgresql_timeout(limit):
                yield
        elif connection.vendor == "sqlite":
            with _sqlite_deadline(limit):
                yield
        else:
            yield
    except OperationalError as exc:
        if not _stopped(exc):
            raise
        raise FilterTooSlow(
            f"These filters take longer than {limit / 1000:g} s here, so they were stopped: "
            "add a filter that narrows the images first (status, final_label, "
            "uploaded_after and uploaded_before, tag) and ask again.",
            budget_ms=limit,
        ) from None


@contextmanager
def _postgresql_timeout(limit: int) -> Iterator[None]:
    # SET LOCAL lasts to the end of the transaction. Alone, the block is that transaction;
    # inside another, a savepoint's release would keep the limit for the rest of it, so
    # the old value is put back (a stopped statement's rollback puts it back itself).
    nested = connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), "
                "set_config('statement_timeout', %s, true)",
                [f"{limit}ms"],
            )
            before = cursor.fetchone()[0]
        yield
        if nested:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])


@contextmanager
def _sqlite_deadline(limit: int) -> Iterator[None]:
    connection.ensure_connection()
    raw: Any = connection.connection
    deadline = time.monotonic() + limit / 1000

    def past_deadline() -> int:
        return int(time.monotonic() > deadline)  # non-zero interrupts the statement

    raw.set_progress_handler(past_deadline, SQLITE_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def _stopped(exc: OperationalError) -> bool:
    cause = exc.__cause__
    if getattr(cause, "pgcode", None) == QUERY_CANCELED:
        return True
    if getattr(cause, "sqlstate", None) == QUERY_CANCELED:
        return True
    return connection.vendor == "sqlite" and "interrupted" in str(exc)
