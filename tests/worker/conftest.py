"""A Celery worker over the real Redis, for the worker tests that need one; torch's threads
as a fresh worker process has them, for every worker test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from kombu import pools

from worker.celery_app import app
from worker.ml.device import configure_threads, cores

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(autouse=True)
def torch_threads_as_in_a_fresh_worker() -> None:
    """Every core, as a new worker process pins them: a test before may have left another
    count (the decoding pipeline lends threads to decoding), and a small model trained on
    a few images lands elsewhere when its sums are split over other threads."""
    configure_threads(threads=cores())


@pytest.fixture
def redis_worker() -> Iterator[None]:
    """A Celery worker thread consuming the default queue from the real Redis."""
    if not REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    reset_producer_pools()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(saved)
        reset_producer_pools()


def reset_producer_pools() -> None:
    """Drop pooled broker connections, which were opened for the broker configured before."""
    app.pool.force_close_all()
    app._after_fork()  # Celery's own reset of the connection and producer pools
    pools.reset()  # kombu's global pools, which a stopped worker leaves closed
