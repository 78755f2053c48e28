"""The prediction benchmark, run small in a process of its own so it keeps working."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_the_small_benchmark_serves_over_http_and_prints_its_ratios(tmp_path) -> None:
    """gunicorn answers every request (the script stops on any other answer than 200),
    the table has each measure with its ratio, and the served log holds a row for every
    image answered; the exit code is the verdict, which the tiny sizes do not decide."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "bench/predict.py", "--architectures", "small-cnn", "--image-side",
         "48", "--requests", "5", "--repeat", "1", "--seconds", "1", "--threads", "8"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    for measure in ("64 files in one request", "32 clients x 1 file"):
        ratio = re.search(rf"^small-cnn 32px\s*{measure}.*\s([\d.]+)x\s+>=", done.stdout, re.M)
        assert ratio is not None and float(ratio.group(1)) > 0, done.stdout
    assert re.search(r"^small-cnn 32px\s*1 file p50 ms.*[+-][\d.]+", done.stdout, re.M), done.stdout
    logged = re.search(r"^served log: (\d+) rows for (\d+) images answered$", done.stdout, re.M)
    assert logged is not None and logged.group(1) == logged.group(2), done.stdout
