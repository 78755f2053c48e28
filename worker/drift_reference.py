"""A model version's drift reference: its test images' embeddings, confidences and top
labels, computed once by the worker and kept by ``labeler.monitoring.services``.

The test images are those the version was scored on (``version_test_outputs``); a version
scored before the project kept them takes the project's test split as it stands
(``project_splits``). This module moves arrays; ``worker.ml.anatomy`` knows the network.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from django.conf import settings

from labeler.images.models import Image
from labeler.images.pixels.model_inputs import input_cache
from labeler.images.stored.references import file_open
from labeler.monitoring import services as monitoring_services
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import project_splits, version_test_outputs
from labeler.predictions.splitting import TEST
from worker.ml import weights
from worker.ml.anatomy import probabilities_and_embeddings
from worker.ml.data import decode_files
from worker.ml.device import configure_threads, decode_threads, select_device
from worker.model_files import weights_path

logger = logging.getLogger(__name__)

BATCH = 256


def _open(name: str) -> Any:
    return file_open(name)  # stored here, or read in place (labeler.images.stored.references)


def reference_image_ids(version: ModelVersion) -> list[int]:
    """The images the version's drift reference is made of: its test images."""
    outputs = version_test_outputs(version)
    if outputs is not None:
        return list(outputs.image_ids)
    return sorted(i for i, side in project_splits(version.project).items() if side == TEST)


def version_project_id(model_version_id: int) -> int | None:
    """The version's project (None if the version is gone)."""
    versions = ModelVersion.objects.filter(pk=model_version_id)
    return versions.values_list("project_id", flat=True).first()


def reference_compute(model_version_id: int) -> int:
    """Compute and keep the version's reference; returns how many test images it holds
    (those that decoded), -1 if the version is gone."""
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        return -1
    configure_threads(setting=settings.LABELER_TORCH_THREADS)
    device = select_device(settings.LABELER_DEVICE)
    loaded = weights.load(weights_path(version.weights), device)
    wanted = reference_image_ids(version)
    stored = Image.objects.filter(pk__in=wanted, project_id=version.project_id)
    files = {pk: (name, sha) for pk, name, sha in stored.values_list("pk", "file", "sha256")}
    ids = [i for i in wanted if i in files]
    decoded = decode_files(
        [files[i][0] for i in ids],
        _open,
        image_size=loaded.meta["image_size"],
        grayscale=loaded.meta["grayscale"],
        threads=decode_threads(device),
        keys=[files[i][1] for i in ids],
        cache=input_cache(),
    )
    if decoded.bad:
        logger.warning("Version %s's drift reference: %d undecodable", version.pk, len(decoded.bad))
    parts = [
        probabilities_and_embeddings(loaded, decoded.images[start : start + BATCH])
        for start in range(0, len(decoded.ok), BATCH)
    ]
    labels = len(loaded.meta["label_ids"])
    monitoring_services.drift_reference_store(
        model_version_id=version.pk,
        image_ids=[ids[i] for i in decoded.ok],
        probabilities=np.concatenate([p for p, _ in parts]) if parts else np.zeros((0, labels)),
        embeddings=np.concatenate([e for _, e in parts]) if parts else np.zeros((0, 0)),
        label_ids=list(loaded.meta["label_ids"]),
    )
    return len(decoded.ok)
