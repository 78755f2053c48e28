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
    """Both passes store a prediction per image (the script checks it), in one process and
    in a worker of two, and every column of the table is filled; each ratio is against the
    faster layout's bare forward pass. The exit code is the verdict, which the tiny sizes
    do not decide."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "bench/prelabel.py", "--models", "small-cnn", "--sizes", "64x48",
         "--images", "96", "--repeat", "1", "--chunk", "40", "--processes", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert "sqlite database, tasks of 40 images" in done.stdout
    rows = dict(
        re.findall(r"^small-cnn\s+32px\s+64x48\s+\d+\s+96\s+(\dx\d)\s+(.+)$", done.stdout, re.M)
    )
    assert sorted(rows) == ["1x2", "2x1"], done.stdout
    figures = {layout: row.split()[:6] for layout, row in rows.items()}
    reference = max(float(forward) for forward, *_ in figures.values())
    for forward, passed, ratio, cold, cold_ratio, upload in figures.values():
        assert float(forward) > 0 and float(passed) > 0 and float(cold) > 0
        assert float(ratio) == pytest.approx(float(passed) / reference, abs=0.02)
        assert float(cold_ratio) == pytest.approx(float(cold) / reference, abs=0.02)
        assert float(upload) > 0
    assert not list(tmp_path.glob("labeler-prelabel-*"))  # its temporary folder is gone
