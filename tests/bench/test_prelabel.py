"""The pre-labelling benchmark, run small in a process of its own so it keeps working."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_small_benchmark_runs_the_task_and_prints_its_ratios(tmp_path) -> None:
    """Both passes store a prediction per image (the script checks it) and every column of
    the table is filled; the exit code is the verdict, which the tiny sizes do not decide."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "bench/prelabel.py", "--models", "small-cnn", "--sizes", "64x48",
         "--images", "96", "--repeat", "1", "--chunk", "40"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "sqlite database, tasks of 40 images" in done.stdout
    row = re.search(r"^small-cnn\s+32px\s+64x48\s+\d+\s+96\s+(.+)$", done.stdout, re.MULTILINE)
    assert row is not None, done.stdout
    forward, passed, ratio, cold, cold_ratio, upload = row.group(1).split()[:6]
    assert float(forward) > 0 and float(passed) > 0 and float(cold) > 0
    assert float(ratio) == pytest.approx(float(passed) / float(forward), abs=0.02)
    assert float(cold_ratio) > 0 and float(upload) > 0
    assert not list(tmp_path.glob("labeler-prelabel-*"))  # its temporary folder is gone
