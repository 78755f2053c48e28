"""Sends that fail while the broker is down are kept in the database and sent again by beat.

The Celery app is pointed at a Redis URL on a free port where nothing listens: sending
fails as it does in an outage, through the real client. Delivery is checked against a
private redis-server (tests/reliability/conftest.py), never the shared one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile

from bench.load_stack import free_port
from labeler import jobs
from labeler.flows import images_ingest
from labeler.images.models import Image
from labeler.outbox import services as outbox_services
from labeler.outbox.models import PendingSend
from tests.factories import ProjectFactory, image_bytes
from tests.reliability.conftest import PrivateRedis
from tests.worker.conftest import reset_producer_pools
from worker import tasks
from worker.celery_app import app

RECORD = "tests.labeler.test_outbox.record"
BROKEN = "tests.labeler.test_outbox.broken"
THUMBNAIL = "worker.tasks.image_prepare"
PREPARE = "worker.tasks.images_prepare"
calls: list[object] = []
pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


@app.task(name=RECORD)
def record(value: object) -> None:
    calls.append(value)


@app.task(name=BROKEN)
def broken() -> None:
    raise ConnectionError("the task's own connection failed")


@pytest.fixture(autouse=True)
def fresh_calls() -> None:
    calls.clear()


def _broker(url: str) -> None:
    app.conf.update(broker_url=url, task_always_eager=False)
    reset_producer_pools()  # pooled connections were opened for the broker before


@pytest.fixture
def broker_down() -> Iterator[None]:
    """The app sends to a Redis on a free port: nothing listens there."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    _broker(f"redis://127.0.0.1:{free_port()}/0")
    try:
        yield
    finally:
        app.conf.update(saved)
        reset_producer_pools()


def _queued(server: PrivateRedis, queue: str) -> list[tuple[str, list[object]]]:
    """The tasks waiting in a queue of the private Redis, oldest first: (name, args)."""
    client = redis.Redis.from_url(server.url)
    try:
        messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    finally:
        client.close()
    return [
        (message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0])
        for message in messages
    ]


def test_a_thumbnail_not_sent_while_the_broker_is_down_is_kept(
    broker_down, django_capture_on_commit_callbacks
) -> None:
    """The upload succeeds; its thumbnail task is stored in the outbox, not lost."""
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=True):
        [result] = images_ingest(
            project=project, files=[SimpleUploadedFile("a.png", image_bytes())]
        )
    kept = PendingSend.objects.get()
    assert (kept.task, kept.args, kept.kwargs, kept.attempts) == (
        PREPARE,
        [[result.image_id]],
        {},
        1,
    )
    assert not Image.objects.get(pk=result.image_id).thumbnail  # never run in-process


def test_identical_failed_sends_are_kept_once(
    broker_down, django_capture_on_commit_callbacks
) -> None:
    """The same task with the same arguments is one row (its attempts count the sends);
    other arguments, or a countdown, are another."""
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(RECORD, 1)
        jobs.enqueue(RECORD, 1)
        jobs.enqueue(RECORD, 2)
        jobs.enqueue_in(30, RECORD, 1)
    rows = [(row.args, row.options, row.attempts) for row in PendingSend.objects.all()]
    assert rows == [([1], {}, 2), ([2], {}, 1), ([1], {"countdown": 30}, 1)]
    assert calls == []


def test_while_the_broker_is_still_down_outbox_send_stops_at_the_first_row(
    broker_down,
) -> None:
    for value in (1, 2):
        outbox_services.outbox_keep(task=RECORD, args=[value])
    assert tasks.outbox_send() == 0
    assert [(row.args, row.attempts) for row in PendingSend.objects.all()] == [([1], 2), ([2], 1)]
    assert calls == []


def test_outbox_send_delivers_what_was_kept_oldest_first_and_deletes_it(
    private_redis: PrivateRedis, django_capture_on_commit_callbacks
) -> None:
    """Kept during an outage; once the broker answers, beat's task sends every row and
    deletes it; the export and the thumbnail reach their queue as first sent."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    try:
        _broker(f"redis://127.0.0.1:{free_port()}/0")
        with django_capture_on_commit_callbacks(execute=True):
            jobs.enqueue(THUMBNAIL, 7)
            jobs.enqueue("worker.tasks.export_run", 3)
            jobs.enqueue("worker.tasks.ml_predict", 5, [1, 2])
        assert PendingSend.objects.count() == 3

        _broker(private_redis.url)
        assert tasks.outbox_send() == 3
    finally:
        app.conf.update(saved)
        reset_producer_pools()
    assert not PendingSend.objects.exists()
    assert _queued(private_redis, "default") == [
        (THUMBNAIL, [7]),
        ("worker.tasks.export_run", [3]),
    ]
    assert _queued(private_redis, "gpu") == [("worker.tasks.ml_predict", [5, [1, 2]])]


def test_a_row_kept_again_while_it_is_being_sent_is_not_deleted() -> None:
    """A send that failed again meanwhile stays for the next run."""
    outbox_services.outbox_keep(task=RECORD, args=[1])
    [pending] = outbox_services.outbox_pending()
    assert not outbox_services.outbox_keep(task=RECORD, args=[1])
    assert not outbox_services.outbox_sent(pending=pending)
    assert PendingSend.objects.get().attempts == 2


@pytest.mark.django_db(transaction=True)
def test_in_process_tasks_are_never_kept(caplog) -> None:
    """Without a broker a task runs in the calling process; its own failure, even a
    connection error, is the task's, not a send to keep."""
    assert app.conf.task_always_eager
    jobs.enqueue(BROKEN)  # autocommit: run at once, its error logged by on_commit
    jobs.enqueue(RECORD, "inline")
    assert calls == ["inline"]
    assert not PendingSend.objects.exists()
    assert "the task's own connection failed" in caplog.text
