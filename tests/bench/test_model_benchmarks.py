"""The model benchmarks, run small in processes of their own so they keep working (the
GPU figures come from them: bench/gpu.sh)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _run(*arguments: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # As run by hand: the benchmark configures Django as a worker does (not the tests' settings).
    dropped = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(TMPDIR=str(tmp_path), LABELER_MODEL_DIR=str(tmp_path / "models"))
    return subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def test_the_photo_models_benchmark_prints_every_step_and_its_goals(tmp_path) -> None:
    """Each step timed, the ratios against their references, the two goals judged; on a
    CPU no nvJPEG rows. The tiny sizes do not decide the verdict (the exit code). Four
    training images: a fit takes at least eight steps (MIN_STEPS_PER_EPOCH) of a batch of
    them at 224 pixels, and the script fits twice; with sixteen this was the suite's
    slowest test (102 s on two loaded cores, 42 s with four)."""
    done = _run(
        "bench/photo_models.py", "--device", "cpu", "--train", "4", "--predict", "16",
        "--photos", "4", "--width", "320", "--height", "240", "--repeat", "1",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    rows = [line for line in done.stdout.splitlines() if re.search(r" \d+\.\d\d +\d+\.\d", line)]
    for step in (
        "training: bare PyTorch loop (reference), batch",
        "training: fit (default augmentation, validation incl.)",
        "pre-labelling: predict_files, kept inputs",
        "pre-labelling: predict_files, cold, CPU decode (",
        "decode only: PIL on the CPU (",
    ):
        assert any(row.startswith(step) for row in rows), (step, done.stdout)
    assert "nvJPEG" not in done.stdout
    assert re.search(r"^goal pre-labelling: \d+\.\d\dx >= 0\.8x: (met|MISSED)$", done.stdout, re.M)


def test_the_training_benchmark_trains_the_digits_to_its_target(tmp_path) -> None:
    done = _run("bench/training.py", "--seeds", "0", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^\s+0\s+\d+\.\d\s+\d+\.\d\s+\d+\s+\d+\s+9\d\.\d\d%.*ok$", done.stdout, re.M)
