"""The worker's machine-learning settings, read from the environment.

``worker/ml`` never reads Django's settings: its callers (``worker/model_jobs.py``, the
benchmarks) pass what they hold, and what is not passed is read here from the variable
``labeler/settings.py`` reads, with the same default: ``LABELER_DEVICE``,
``LABELER_TORCH_THREADS``, ``LABELER_GPU_DECODE``, ``LABELER_PRETRAINED_DIR``.
"""

from __future__ import annotations

import os

_TRUE = {"1", "true", "yes", "on"}


def env_text(name: str, default: str) -> str:
    """The variable's text, ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


def env_int(name: str, default: int) -> int:
    """The variable as an integer; a malformed one is a ``ValueError`` naming it."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}.") from exc


def env_bool(name: str, default: bool) -> bool:
    """The variable as a boolean (1/true/yes/on, any case), ``default`` when unset or empty."""
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in _TRUE
