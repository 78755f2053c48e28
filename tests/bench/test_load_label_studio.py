"""The load benchmark against Label Studio, end to end on a tiny project.

Label Studio runs from its own virtualenv (``make label-studio-venv``, which CI builds),
under gunicorn on a PostgreSQL database of its own beside the benchmark's (migrated on
the first run, kept for the next); the test checks that its annotators labelled with no
error and that its CPU per loop was measured beside ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.bench.test_load import _redis_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.label_studio]

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "labeler_bench_load_ls_test"  # not test_load.py's: the two may run side by side


def _database_url() -> str:
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit(urlsplit(configured)._replace(path=f"/{DATABASE}"))


def test_label_studio_runs_the_same_loop_beside_ours(tmp_path: Path) -> None:
    command = os.environ.get("LABELER_LABEL_STUDIO")
    if not command:
        pytest.skip("needs a Label Studio server: set LABELER_LABEL_STUDIO")
    venv = Path(command).resolve().parent.parent
    results = tmp_path / "results.json"
    argv = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        "--label-studio",
        "--sizes=300",
        "--concurrency=1,2",
        "--seconds=1.5",
        "--per-process=2",
        "--gunicorn=gthread:1x4",
        "--skip=floor,import,export,pages,grid",
        f"--database-url={_database_url()}",
        f"--redis-url={_redis_url()}",
        f"--var-dir={ROOT / 'var' / 'bench_load_ls_test'}",
        f"--json={results}",
    ]
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["LABELER_LABEL_STUDIO_VENV"] = str(venv)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(results.read_text())

    levels = {(level["size"], level["concurrency"]): level for level in report["levels"]}
    assert set(levels) == {(300, 1), (300, 2)}
    for level in levels.values():
        studio = level["label_studio"]
        assert studio["calls"]["loop"]["count"] > 0
        assert studio["errors"] == 0, studio["error_samples"]
        assert studio["over_next"] == 0  # no task handed to two annotators
        assert studio["created"] == studio["acknowledged"] == studio["calls"]["loop"]["count"]
        assert studio["server_ms_per_loop"] > 0 and level["server_ms_per_loop"] > 0
    assert "Label Studio's web CPU per loop over ours" in done.stdout
    assert "LS/ours" in done.stdout
