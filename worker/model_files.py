"""Where a model version's weights lie: a name under ``LABELER_MODEL_DIR``, given by the
run that trained it. Light to import (no scikit-learn, no training code): the serving
path reads weights through it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def weights_name(project_id: int, run_id: int) -> str:
    """Where a run's weights go, relative to LABELER_MODEL_DIR."""
    return f"project-{project_id}/run-{run_id}.pt"


def weights_path(name: str) -> Path:
    """The absolute path of a weights file name."""
    return Path(settings.LABELER_MODEL_DIR) / name
