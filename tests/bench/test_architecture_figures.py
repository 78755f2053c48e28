"""The architecture page's figures, re-measured small so that their scripts keep working:
files and lines per room (``bench/rooms.py``) and an annotator's submit traced file by
file (``bench/journeys.py``), which never climbs up the layers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: int) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_rooms_counts_each_room_and_compares_with_a_commit() -> None:
    """Every room of images and imports has its row, and against the same commit the
    comparison's two sides are equal."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    out = _run("bench/rooms.py", "--before", "HEAD", timeout=120)
    for room in ("images/pixels/", "images/stored/", "imports/reading/", "imports/applying/"):
        assert f"| `labeler/{room}` |" in out
    assert re.search(r"^\| `worker/ml/` \| \d+ \| [\d,]+ \|$", out, re.M)
    compared = re.findall(
        r"^\| `(labeler/[^`]+)` \| (\d+) \| ([\d,]+) \| (\d+) \| ([\d,]+) \|$", out, re.M
    )
    assert compared, out
    # Untracked files count now but not at HEAD; tracked ones are the same on both sides.
    assert all(int(now) >= int(before) for _, now, _, before, _ in compared)


@pytest.mark.slow
def test_a_submit_visits_the_api_and_the_domain_and_never_climbs() -> None:
    out = _run("bench/journeys.py", "submit", timeout=300)
    found = re.search(r"## submit \(tasks left enqueued\): (\d+) files, (\d+) climbs", out)
    assert found, out
    assert int(found[2]) == 0, out
    assert "api/annotations.py" in out and "labeler/annotations/submit.py" in out
