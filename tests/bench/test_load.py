"""The load benchmark, end to end on tiny projects, so that the script keeps working.

It runs the real thing: gunicorn and the Celery workers on a database of its own
(``labeler_bench_load_test`` on the configured PostgreSQL server) and a Redis database
of its own (7: the benchmark's default is 6), then checks what the run reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.settings import redis_url_of_worker

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "labeler_bench_load_test"


def _database_url() -> str:
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit(urlsplit(configured)._replace(path=f"/{DATABASE}"))


def _redis_url() -> str:
    import redis

    configured = os.environ.get("REDIS_URL", "")
    if not configured:
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    url = redis_url_of_worker(offset=2)  # emptied by the benchmark: no other test's
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {configured}")
    return url


def test_a_tiny_run_labels_without_errors_or_over_assignment(tmp_path: Path) -> None:
    """Every level labels images with no error and nothing handed out beyond overlap; the
    database holds exactly the acknowledged labels; the floor, the lead's import, export
    and page timings all ran; a page was labelled and reviewed in grid mode in Chromium."""
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        "--sizes=300",
        "--concurrency=1,4",
        "--seconds=1.5",
        "--per-process=2",
        "--import-images=30",
        "--import-batch=10",
        "--export-images=300",  # the one size: exported after its levels
        "--page-loads=2",
        f"--database-url={_database_url()}",
        f"--redis-url={_redis_url()}",
        f"--var-dir={ROOT / 'var' / 'bench_load_test'}",
        f"--json={results}",
    ]
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(results.read_text())

    levels = {(level["size"], level["concurrency"]): level for level in report["levels"]}
    assert set(levels) == {(300, 1), (300, 4)}
    for level in levels.values():
        http, db = level["http"], level["db"]
        assert http["calls"]["loop"]["count"] > 0
        assert http["errors"] == 0, http["error_samples"]
        assert http["over_next"] == 0 and db["over_db"] == 0
        assert db["annotations"] == http["created"] == http["acknowledged"]
        assert db["count_mismatches"] == 0
        assert level["floor"]["calls"]["loop"]["count"] > 0
        assert level["floor"]["errors"] == 0
        assert level["ours_over_floor"] > 0
        # The framework's floor: the same annotators against two bare Django views.
        bare = level["django_floor"]
        assert bare["calls"]["loop"]["count"] > 0 and bare["errors"] == 0, bare["error_samples"]
        assert bare["over_next"] == 0
        assert bare["server_ms_per_loop"] > 0 and level["server_ms_per_loop"] > 0
        assert http["client_cpu_seconds"] > 0
    assert {page["name"] for page in report["pages"]} >= {"project page", "labelling page"}
    assert all(page["status"] == 200 and page["milliseconds"] for page in report["pages"])
    assert report["import"]["created"] == 30 and report["import"]["errors"] == 0
    assert report["export"]["exported"] == 300 and report["export"]["status"] == 200
    grid = report["grid"]
    assert grid["size"] == 300 and grid["ok"], grid
    assert grid["check"]["annotations"] == grid["check"]["grid_flagged"] == grid["tiles"] > 2
    assert grid["reviewed"] == grid["tiles"] and grid["check"]["decisions_match"]
    assert grid["label"]["enter_to_next_ms"] > 0 and grid["review"]["enter_to_confirmed_ms"] > 0
    assert "grid step passed" in done.stdout
    assert "Targets" in done.stdout
