"""Model versions with a real weights file, for the routes that load a model."""

from __future__ import annotations

from pathlib import Path

import torch
from django.conf import settings

from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from worker.ml import architectures, weights


def version_with_weights(
    project: Project,
    *,
    version: int = 1,
    architecture: str = "small-cnn",
    image_size: int = 32,
    grayscale: bool = False,
    is_current: bool = True,
    seed: int = 0,
) -> ModelVersion:
    """A version of the project over its labels (in id order), its weights an untrained
    network drawn with ``seed``, saved under LABELER_MODEL_DIR."""
    label_ids = list(project.labels.order_by("pk").values_list("pk", flat=True))
    channels = 1 if grayscale else 3
    torch.manual_seed(seed)
    model = architectures.build(architecture, len(label_ids), channels, image_size)
    meta = {
        "architecture": architecture,
        "label_ids": label_ids,
        "thresholds": None,
        "image_size": image_size,
        "grayscale": grayscale,
        "channels": channels,
        "normalisation": architectures.normalisation_for(architecture, channels),
        "multi_label": project.multi_label,
    }
    name = f"project-{project.pk}/version-{version}.pt"
    sha256 = weights.save(Path(settings.LABELER_MODEL_DIR) / name, model=model.eval(), meta=meta)
    return ModelVersion.objects.create(
        project=project,
        version=version,
        architecture=architecture,
        weights=name,
        weights_sha256=sha256,
        is_current=is_current,
        metrics={"confusion": {"labels": label_ids, "matrix": []}},
    )
