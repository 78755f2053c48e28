"""PostgreSQL restarts under a running server: clean 503s meanwhile, recovery without a restart.

gunicorn (DEBUG off, persistent connections with health checks, as in production)
serves a private PostgreSQL cluster, which is stopped and started again while clients
keep calling the API and a page. While it is down every answer is a quick 503 that says
the database is unavailable (JSON for the API, with Retry-After), never a 500 or a hang;
once it is back the same server process answers normally again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg2
import pytest

from bench.load_http import Browser
from bench.load_stack import GunicornSetup, stack_env, stack_running
from tests.reliability.conftest import PrivatePostgres
from tests.reliability.stack import ADMIN, PASSWORD, Answer, call, database_prepare

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 4


def _create_database(server: PrivatePostgres, name: str) -> None:
    connection = psycopg2.connect(server.url())
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def test_requests_fail_cleanly_while_postgres_restarts_and_recover(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """During the outage: 503 JSON with Retry-After for the API, a 503 page for people, in
    well under the request timeout; afterwards: 200s from the same gunicorn."""
    _create_database(private_postgres, "labeler")
    env = stack_env(
        database_url=private_postgres.url("labeler"), redis_url="", var_dir=tmp_path / "var"
    )
    env.update(DATABASE_CONN_MAX_AGE="60", LOG_LEVEL="CRITICAL")
    token = database_prepare(env)
    answers: list[tuple[str, Answer]] = []
    stop = threading.Event()
    with stack_running(
        env, GunicornSetup.parse("gthread:2x4"), tmp_path / "logs", workers=False
    ) as stack:
        pids = {process.pid for process in stack.processes.values()}
        page = Browser(stack.base_url)
        page.login(ADMIN, PASSWORD, "/")

        def api_client() -> None:
            while not stop.is_set():
                answers.append(("api", call(stack.base_url, "/api/v1/projects/", token=token)))
                time.sleep(0.05)

        def page_client() -> None:
            while not stop.is_set():
                started = time.monotonic()
                answer = page.get("/")
                answers.append(
                    (
                        "page",
                        Answer(
                            answer.status,
                            answer.body,
                            dict(answer.headers),
                            time.monotonic() - started,
                            started,
                        ),
                    )
                )
                time.sleep(0.05)

        threads = [threading.Thread(target=api_client) for _ in range(3)]
        threads.append(threading.Thread(target=page_client))
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        stopping = time.monotonic()
        private_postgres.stop()
        down = time.monotonic()  # stopped: every request sent from now on finds it down
        time.sleep(OUTAGE_SECONDS)
        starting = time.monotonic()
        private_postgres.start()
        up = time.monotonic()
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join()
        page.close()
        created = call(
            stack.base_url,
            "/api/v1/projects/",
            token=token,
            payload={"name": "After the restart", "labels": [{"name": "cat"}, {"name": "dog"}]},
        )
        assert {process.pid for process in stack.processes.values()} == pids
        assert all(process.poll() is None for process in stack.processes.values())

    before = [a for _, a in answers if a.at + a.seconds < stopping]
    during = [(kind, a) for kind, a in answers if a.at > down and a.at + a.seconds < starting]
    after = [a for _, a in answers if a.at > up + 1]
    assert before and all(a.status == 200 for a in before)
    assert {kind for kind, _ in during} == {"api", "page"}, "no request during the outage"
    for kind, answer in during:
        assert answer.status == 503, (kind, answer.status, answer.body[:300])
        assert answer.headers.get("Retry-After") == "5"
        assert answer.seconds < 3, f"a request took {answer.seconds:.1f} s during the outage"
        if kind == "api":
            assert answer.json()["code"] == "database_unavailable"
        else:
            assert b"database is unavailable" in answer.body
    assert after and all(a.status == 200 for a in after), [a.status for a in after]
    assert all(a.status in (200, 503) for _, a in answers), {a.status for _, a in answers}
    assert created.status == 201, created.body
    print(
        f"\npostgres restart: {len(answers)} requests, {len(during)} during a "
        f"{OUTAGE_SECONDS} s outage, all 503 in at most "
        f"{max(a.seconds for _, a in during):.2f} s; {len(after)} after it, all 200"
    )
