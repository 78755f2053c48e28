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
