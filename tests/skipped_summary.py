"""What a test run left out, said loudly at its end, grouped by why.

A run on SQLite used to end green with every test that needs PostgreSQL or Redis skipped,
one "SKIPPED" line among hundreds. This plugin ends every run with one line per reason:
how many tests, what they need, why they did not get it, and the command that runs them.

It also marks the tests that ask for PostgreSQL or Redis through the shared fixtures
(``needs_postgres``, ``redis_worker``), so ``-m "postgres or redis"`` selects every test a
run on SQLite skips for want of them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# The fixtures through which a test asks for a server, and the marker that says so.
SERVER_FIXTURES = {"needs_postgres": "postgres", "redis_worker": "redis"}


@dataclass(frozen=True)
class Group:
    """Skips whose reason matches ``pattern``: what those tests need and how to run them."""

    pattern: str
    needs: str
    server: bool  # a server `make test` runs the whole suite on, when it answers

    def why(self) -> str:
        if self.needs == "PostgreSQL":
            url = os.environ.get("DATABASE_URL", "")
            said = "is not set" if not url else "is not a PostgreSQL URL"
            return (
                f"DATABASE_URL {said}, so the suite ran on SQLite; `make test` runs them "
                "when PostgreSQL answers on 127.0.0.1:5432: the whole suite there (make "
                "test-postgres)"
            )
        if self.needs == "Redis":
            said = "is not set" if not os.environ.get("REDIS_URL") else "names no Redis answering"
            return (
                f"REDIS_URL {said}; `make test` runs them when Redis answers on "
                "127.0.0.1:6379 (make test-postgres)"
            )
        return ""


GROUPS = (
    Group(r"needs the PostgreSQL server binaries|needs runuser", "PostgreSQL's programs", False),
    Group(r"needs PostgreSQL", "PostgreSQL", True),
    Group(r"needs redis-server on PATH", "redis-server on PATH", False),
    Group(r"needs Redis", "Redis", True),
    Group(r"needs Chromium", "Chromium (the browser tests)", False),
    Group(r"needs a Label Studio server", "a Label Studio server (make test-label-studio)", False),
    Group(r"needs a CUDA GPU", "a CUDA GPU", False),
    Group(r"could not import", "a Python package that is not installed", False),
)


def pytest_configure(config: pytest.Config) -> None:
    # Declared in pyproject.toml too; here for runs that do not read it.
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (DATABASE_URL)")
    config.addinivalue_line("markers", "redis: needs a Redis server (REDIS_URL)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in SERVER_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skipped test gave, without pytest's "Skipped: " prefix."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def skipped_groups(reasons: list[str]) -> list[tuple[bool, str]]:
    """One line per reason, the servers' first, then by count: how many tests, what they
    need, and why they did not get it. With each, whether a server is what they lack."""
    counts: Counter[tuple[bool, str]] = Counter()
    for reason in reasons:
        group = next((g for g in GROUPS if re.search(g.pattern, reason)), None)
        if group is None:
            counts[(False, reason)] += 1
        else:
            counts[(group.server, f"need {group.needs}: {group.why() or reason}")] += 1
    ordered = sorted(counts.items(), key=lambda item: (not item[0][0], -item[1], item[0][1]))
    return [(server, _line(count, text)) for (server, text), count in ordered]


def _line(count: int, text: str) -> str:
    if text.startswith("need "):
        tests = "test that needs" if count == 1 else "tests that need"
        return f"SKIPPED {count} {tests} {text.removeprefix('need ')}"
    return f"SKIPPED {count} {'test' if count == 1 else 'tests'}: {text}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """After pytest's own summary (the -ra lines), just above the counts' last line."""
    yield
    # Test reports, and collection reports of modules skipped whole (one line each).
    skipped = [skip_reason(report) for report in terminalreporter.stats.get("skipped", [])]
    if not skipped:
        return
    terminalreporter.write_sep("!", f"{len(skipped)} skipped, by reason", yellow=True, bold=True)
    for server, line in skipped_groups(skipped):
        terminalreporter.write_line(line, red=server, yellow=not server, bold=server)
