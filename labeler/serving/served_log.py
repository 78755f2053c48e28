"""The served predictions' log, written off the request's path.

A prediction is answered as soon as the model has run: its log rows (``ServedPrediction``)
are made and written by a writer thread of the process that ran the model (the request
queues what makes them, not the rows: making 64 rows cost a request of 64 images more
than a millisecond), which writes every row queued in one ``bulk_create`` a round. Each
answer still carries its row's id (``served_id``): ids are reserved from the table's own
sequence in blocks (``ids_reserve``), so a row written later gets the id its answer
gave, and rows written by other processes never take it.

Every row is kept: a round the database does not answer is tried again (the rows stay
queued, oldest first, until it answers; at most ``MAX_QUEUED`` rows, past which a
request waits for the writer rather than drop one); a row whose version, caller, token
or label was deleted since it was answered is written without that link (as the
deletion would have left it), and one of a deleted project is dropped with it; a round
the database refuses for what a row holds is written row by row, and only the rows it
refuses are left out, each logged. At exit (``flush``, from ``atexit`` and a Celery
worker's shutdown) the queue is written out; a process killed before (a resident child
that did not answer in time) loses the rows it had not written.

A row's ``created_at`` is the time of its answer. Ids are reserved by each process in
blocks, so across serving processes a larger id is not always a later answer.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

from labeler.predictions.models import ModelVersion
from labeler.projects.models import Label, Project
from labeler.serving.models import PredictToken, ServedPrediction

logger = logging.getLogger(__name__)

BLOCK = 256  # ids reserved at a time
MAX_QUEUED = 100_000  # rows waiting for the database before a request waits for the writer
RETRY_SECONDS = 1.0
IDLE_SECONDS = 1.0  # the writer closes its connection after this long with nothing to write


def _reserve_block(count: int) -> list[int]:
    """``count`` ids no other writer of the table will take, from its own sequence."""
    table = ServedPrediction._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite's AUTOINCREMENT takes max(sqlite_sequence.seq, max(id)) + 1: moving the
        # sequence on keeps the ids before it for us.
        cursor.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT %s, COALESCE(MAX(id), 0) FROM "
            f'"{table}" WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)',
            [table, table],
        )
        cursor.execute(
            "UPDATE sqlite_sequence SET seq = seq + %s WHERE name = %s RETURNING seq",
            [count, table],
        )
        last = cursor.fetchone()[0]
        return list(range(last - count + 1, last + 1))


RowsMaker = Callable[[], Sequence[ServedPrediction]]


class _Writer:
    def __init__(self) -> None:
        self._ids: deque[int] = deque()
        self._ids_lock = threading.Lock()
        self._queued: deque[tuple[int, RowsMaker]] = deque()  # (how many rows, their maker)
        self._count = 0  # rows queued
        self._condition = threading.Condition()
        self._writing = 0  # rows taken by the writer and not yet written
        self._thread: threading.Thread | None = None

    def ids(self, count: int) -> list[int]:
        with self._ids_lock:
            while len(self._ids) < count:
                self._ids.extend(_reserve_block(max(BLOCK, count - len(self._ids))))
            return [self._ids.popleft() for _ in range(count)]

    def write(self, count: int, make: RowsMaker) -> None:
        with self._condition:
            self._condition.wait_for(lambda: self._count < MAX_QUEUED)
            self._queued.append((count, make))
            self._count += count
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="labeler-served-log", daemon=True
                )
                self._thread.start()
            self._condition.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every row queued so far is written; False if that took too long."""
        with self._condition:
            return self._condition.wait_for(
                lambda: not self._queued and not self._writing, timeout=timeout
            )

    def _loop(self) -> None:
        while True:
            with self._condition:
                if not self._condition.wait_for(lambda: bool(self._queued), timeout=IDLE_SECONDS):
                    connection.close()  # idle: hold no connection (nor a test database)
                    continue
                taken = list(self._queued)
                self._queued.clear()
                self._writing, self._count = self._count, 0
            rows = [row for _, make in taken for row in _made(make)]
            while not self._written(rows):
                time.sleep(RETRY_SECONDS)
            with self._condition:
                self._writing = 0
                self._condition.notify_all()

    def _written(self, rows: list[ServedPrediction]) -> bool:
        """Whether the round is over: written, or each row that cannot be written logged."""
        close_old_connections()
        try:
            try:
                with transaction.atomic():
                    ServedPrediction.objects.bulk_create(rows)
            except IntegrityError:  # something a row links to was deleted since
                _one_by_one(_links_checked(rows))
        except (OperationalError, InterfaceError):  # the database did not answer: again
            logger.warning(
                "%d served predictions not logged yet: the database did not answer",
                len(rows), exc_info=True,
            )  # fmt: skip
            connection.close()
            return False
        except Exception:  # what no retry mends: each row on its own
            _one_by_one(rows)
        return True


def _made(make: RowsMaker) -> Sequence[ServedPrediction]:
    """The rows ``make`` makes; none, logged, if it fails (the writer goes on)."""
    try:
        return make()
    except Exception:
        logger.exception("Served predictions could not be made into rows to log")
        return []


def _one_by_one(rows: list[ServedPrediction]) -> None:
    """Write each row in a statement of its own, logging (and leaving out) a row the
    database refuses for what it holds; a database that stops answering raises."""
    for row in rows:
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("Served prediction %s (image %s) could not be logged", row.pk,
                             row.image_sha256)  # fmt: skip


def _links_checked(rows: list[ServedPrediction]) -> list[ServedPrediction]:
    """The rows with each link to a deleted row cleared (as ``SET_NULL`` would have), and
    without the rows of deleted projects."""

    def alive(model: Any, ids: set[int | None]) -> set[int]:
        return set(model.objects.filter(pk__in=ids - {None}).values_list("pk", flat=True))

    projects = alive(Project, {row.project_id for row in rows})
    versions = alive(ModelVersion, {row.model_version_id for row in rows})
    callers = alive(User, {row.caller_id for row in rows})
    tokens = alive(PredictToken, {row.token_id for row in rows})
    labels = alive(Label, {row.top_label_id for row in rows})
    kept = []
    for row in rows:
        if row.project_id not in projects:
            continue
        if row.model_version_id not in versions:
            row.model_version_id = None
        if row.caller_id not in callers:
            row.caller_id = None
        if row.token_id not in tokens:
            row.token_id = None
        if row.top_label_id not in labels:
            row.top_label_id = None
        kept.append(row)
    return kept


_writer = _Writer()
atexit.register(_writer.flush)


def ids_reserve(count: int) -> list[int]:
    """``count`` ids for served-prediction rows, taken from this process's reserved block."""
    return _writer.ids(count) if count else []


def write(count: int, make: RowsMaker) -> None:
    """Queue ``count`` rows (their ids from ``ids_reserve``) for the writer thread, which
    calls ``make`` for them (made there, off the request's path)."""
    if count:
        _writer.write(count, make)


def flush(timeout: float = 30.0) -> bool:
    """Wait until the rows queued so far are written (True), or ``timeout`` passed."""
    return _writer.flush(timeout)
