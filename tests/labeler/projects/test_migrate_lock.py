"""``migrate`` waits for another process's ``migrate`` on PostgreSQL (web replicas that
start together each migrate), instead of creating the same tables beside it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from labeler.projects.management.commands.migrate import MIGRATE_LOCK

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.django_db


def test_a_second_migrate_waits_for_the_lock_and_then_runs():
    if connection.vendor != "postgresql":
        pytest.skip("the lock is PostgreSQL's; SQLite serves one process")
    settings = connection.settings_dict
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
        **{**settings, "HOST": settings["HOST"] or "127.0.0.1", "PORT": settings["PORT"] or 5432}
    )
    holder = psycopg2.connect(url)
    holder.autocommit = True
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    command = [sys.executable, "manage.py", "migrate", "--plan"]
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK])
        waiting = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        # The second migrate is seen by the server itself, queued behind the lock.
        deadline = time.monotonic() + 60
        queued = False
        while waiting.poll() is None and not queued and time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND objid = %s",
                [MIGRATE_LOCK],
            )
            queued = cursor.fetchone()[0] == 1
            time.sleep(0.05)
        finished_early = waiting.poll() is not None
        cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK])
    holder.close()
    output, _ = waiting.communicate(timeout=60)
    assert queued and not finished_early, f"migrate ran while another held the lock: {output}"
    assert waiting.returncode == 0
    assert "No planned migration operations." in output
