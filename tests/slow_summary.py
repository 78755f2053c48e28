"""Tests over the time a test may take without saying so, named at the end of every run.

A test that takes more than ``LIMIT_SECONDS`` (setup, call and teardown together) and is
not marked ``slow`` is named in the summary, with its time: mark it, or make it cheaper.
Each run also prints its slowest tests (``--durations`` in pyproject.toml). Naming, not
failing: a test's time depends on the machine and what else runs on it, and a suite gives
the same verdict every run.

With ``LABELER_TEST_DURATIONS`` set to a path, the run also writes every test's time
there (seconds, tab, node id; slowest first), to see where a whole pass's time goes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

LIMIT_SECONDS = 20.0

_durations: dict[str, float] = defaultdict(float)
_slow_marked: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _durations[report.nodeid] += report.duration
    if "slow" in report.keywords:
        _slow_marked.add(report.nodeid)


def unmarked_over_limit(
    durations: dict[str, float], slow_marked: set[str], limit: float = LIMIT_SECONDS
) -> list[tuple[str, float]]:
    """The tests over ``limit`` seconds that are not marked slow, slowest first."""
    over = [
        (nodeid, seconds)
        for nodeid, seconds in durations.items()
        if seconds > limit and nodeid not in slow_marked
    ]
    return sorted(over, key=lambda pair: -pair[1])


def pytest_terminal_summary(terminalreporter) -> None:
    over = unmarked_over_limit(_durations, _slow_marked)
    if not over:
        return
    terminalreporter.section(f"tests over {LIMIT_SECONDS:.0f} s not marked slow")
    for nodeid, seconds in over:
        terminalreporter.write_line(f"{seconds:7.1f} s  {nodeid}")
    terminalreporter.write_line("Mark each @pytest.mark.slow, or make it cheaper.")


def pytest_sessionfinish(session) -> None:
    path = os.environ.get("LABELER_TEST_DURATIONS")
    if not path or hasattr(session.config, "workerinput"):
        return  # unasked, or a pytest-xdist worker: the controller hears every report
    ranked = sorted(_durations.items(), key=lambda pair: -pair[1])
    Path(path).write_text("".join(f"{seconds:.3f}\t{nodeid}\n" for nodeid, seconds in ranked))
