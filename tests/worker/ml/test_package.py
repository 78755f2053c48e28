"""Importing worker.ml is cheap and sets OpenMP's wait policy before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys


def run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_import_sets_passive_wait_and_loads_no_torch():
    code = "import os, sys, worker.ml; print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)"
    assert run(code) == "PASSIVE False"


def test_an_explicit_policy_is_kept():
    code = "import os, worker.ml; print(os.environ['OMP_WAIT_POLICY'])"
    assert run(code, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_the_ml_code_runs_without_django():
    """Every module of worker.ml imports, and an image decodes within the caps, in a
    process where Django is neither set up nor loaded (its settings come from the
    environment there)."""
    code = (
        "import io, pkgutil, importlib, sys, worker.ml\n"
        "for module in pkgutil.iter_modules(worker.ml.__path__):\n"
        "    importlib.import_module(f'worker.ml.{module.name}')\n"
        "from PIL import Image\n"
        "from worker.ml.data import decode_bytes\n"
        "jpeg = io.BytesIO()\n"
        "Image.new('RGB', (40, 30), 'red').save(jpeg, 'JPEG')\n"
        "pixels = decode_bytes('red.jpg', jpeg.getvalue(), image_size=8, grayscale=False)\n"
        "web = {'django', 'rest_framework', 'celery'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & web)\n"
        "print(pixels.shape, loaded)"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "(3, 8, 8) []"
