"""Model versions with a real weights file, for the routes that load a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from django.conf import settings

from labeler.predictions.models import ModelVersion
from labeler.predictions.training_choice import TrainingFacts, training_config_resolve
from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import Project
from worker.ml import architectures, training, weights


def seeded_network(architecture: str, outputs: int, channels: int, size: int, seed: int):
    """An untrained network drawn with ``seed`` (the global generator left as it was)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return architectures.build(architecture, outputs, channels, size)


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


def fitted_version(
    project: Project, x: np.ndarray, y: list[int], *, image_size: int, epochs: int = 12
) -> ModelVersion:
    """A current version of the project (labels in id order) trained for a few seconds:
    the small CNN on uint8 (N, 3, image_size, image_size) images ``x`` of label indices
    ``y`` (a quarter of them held out for validation)."""
    label_ids = list(project.labels.order_by("pk").values_list("pk", flat=True))
    images, targets = torch.from_numpy(x), torch.tensor(y)
    held = torch.arange(len(y)) % 4 == 0
    augment = {"hflip": True, "vflip": False, "rotation": 0, "crop": 0, "color_jitter": 0}
    raw = {"image_size": image_size, "epochs": epochs, "batch_size": 16, "augment": augment}
    config = training_config_resolve(training_config_clean(raw), TrainingFacts())
    result = training.fit(
        x_train=images[~held],
        y_train=targets[~held],
        x_val=images[held],
        y_val=targets[held],
        multi_label=False,
        num_labels=len(label_ids),
        config=config,
        device="cpu",
        on_epoch=lambda log: True,
    )
    meta = {
        "architecture": "small-cnn",
        "label_ids": label_ids,
        "thresholds": None,
        "image_size": image_size,
        "grayscale": False,
        "channels": 3,
        "normalisation": result.normalisation,
        "multi_label": False,
    }
    name = f"project-{project.pk}/fitted.pt"
    sha256 = weights.save(Path(settings.LABELER_MODEL_DIR) / name, model=result.model, meta=meta)
    return ModelVersion.objects.create(
        project=project,
        version=1,
        weights=name,
        weights_sha256=sha256,
        is_current=True,
        metrics={"confusion": {"labels": label_ids, "matrix": []}},
    )
