"""Every test run ends saying what it skipped, grouped by why, the servers' first: a run on
SQLite no longer looks like a whole green run (tests/skipped_summary.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TINY = """
import pytest

@pytest.fixture
def needs_postgres():
    pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")

@pytest.fixture
def redis_worker():
    pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")

def test_one(needs_postgres): pass
def test_two(needs_postgres): pass
def test_three(needs_postgres): pass
def test_queue(redis_worker): pass

@pytest.mark.skip(reason="needs a CUDA GPU")
def test_gpu(): pass

def test_package():
    pytest.importorskip("no_such_package_anywhere")

@pytest.mark.skip(reason="the platform has no /proc")
def test_proc(): pass

def test_runs(): pass
"""


def run(tmp_path: Path, *args: str, **env: str) -> str:
    (tmp_path / "test_tiny.py").write_text(TINY)
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    # Without the installed plugins (Django's, schemathesis...): a second each, not ten.
    environ.update(PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **env)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.skipped_summary",
            "-p",
            "no:cacheprovider",
            "-ra",
            "test_tiny.py",
            *args,
        ],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_run_ends_with_its_skips_grouped_by_reason(tmp_path: Path) -> None:
    out = run(tmp_path)
    lines = out.splitlines()
    start = next(n for n, line in enumerate(lines) if "7 skipped, by reason" in line)
    assert lines[start + 1 : start + 6] == [
        "SKIPPED 3 tests that need PostgreSQL: DATABASE_URL is not set, so the suite ran on "
        "SQLite; `make test` runs them when PostgreSQL answers on 127.0.0.1:5432: the whole "
        "suite there (make test-postgres)",
        "SKIPPED 1 test that needs Redis: REDIS_URL is not set; `make test` runs them when "
        "Redis answers on 127.0.0.1:6379 (make test-postgres)",
        "SKIPPED 1 test that needs a CUDA GPU: needs a CUDA GPU",
        "SKIPPED 1 test that needs a Python package that is not installed: could not import "
        "'no_such_package_anywhere': No module named 'no_such_package_anywhere'",
        "SKIPPED 1 test: the platform has no /proc",
    ]
    # After pytest's own per-test lines, just above the counts.
    assert out.index("short test summary info") < out.index("7 skipped, by reason")
    assert "1 passed, 7 skipped" in lines[start + 6]


def test_a_database_url_of_another_kind_is_named(tmp_path: Path) -> None:
    out = run(tmp_path, DATABASE_URL="sqlite:///elsewhere.sqlite3")
    assert "need PostgreSQL: DATABASE_URL is not a PostgreSQL URL" in out


def test_a_run_that_skips_nothing_says_nothing_more(tmp_path: Path) -> None:
    out = run(tmp_path, "-k", "runs")
    assert "by reason" not in out and "1 passed" in out


@pytest.mark.parametrize(("marker", "selected"), [("postgres or redis", 4), ("redis", 1)])
def test_the_tests_that_ask_for_a_server_are_marked(
    tmp_path: Path, marker: str, selected: int
) -> None:
    """-m "postgres or redis" selects every test a run on SQLite skips for want of them."""
    out = run(tmp_path, "-m", marker)
    assert f"{selected} skipped" in out and f"{8 - selected} deselected" in out
