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
    """gunicorn answers every request (the script stops on any other answer than 200), and
    the table has each measure and the batch's ratio; the exit code is the verdict, which
    the tiny sizes do not decide."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "bench/predict.py", "--architecture", "small-cnn", "--image-size", "16",
         "--image-side", "32", "--requests", "5", "--repeat", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    for measure in ("bare forward, 1 image", "bare HTTP round trip", "predict over HTTP, 1 image"):
        assert re.search(rf"^{re.escape(measure)}.*\s[\d.]+\s+[\d.]+$", done.stdout, re.M), (
            done.stdout
        )
    ratio = re.search(r"^predict over HTTP\s+([\d.]+)\s+([\d.]+)$", done.stdout, re.M)
    assert ratio is not None and float(ratio.group(2)) > 0, done.stdout
