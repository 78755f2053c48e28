"""The pixels room runs without Django: every module of ``labeler.images.pixels`` imports
in a process with no settings, and leaves Django, DRF and Celery unloaded (worker/ml
relies on it; the import-linter contract says the same of the source)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_every_pixels_module_imports_without_django():
    names = sorted(
        f"labeler.images.pixels.{path.stem}"
        for path in (ROOT / "labeler" / "images" / "pixels").glob("*.py")
        if path.stem != "__init__"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'celery'))\n"
        "print(loaded); sys.exit(1 if loaded else 0)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "labeler.images.pixels.decoding" in names
