"""The worker's heat maps: why a model version chose a label for an image.

Glue between ``labeler.predictions.explanations`` (what to explain, where it is kept) and
``worker.ml.explain`` (Grad-CAM over arrays): loads the version and the image by id,
decodes the image as the model takes it and its display copy through the one decoder,
and hands the overlay back to the service to keep.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from django.conf import settings

from labeler.images.models import Image
from labeler.images.pixels.decoding import image_decode_upright
from labeler.images.stored.references import file_open
from labeler.predictions.explanations import (
    explanation_failure_store,
    explanation_settled,
    explanation_store,
)
from labeler.predictions.models import ModelVersion
from worker.ml import weights
from worker.ml.data import DECODE_ERRORS, BadImage, decode_bytes
from worker.ml.device import configure_threads, select_device
from worker.ml.explain import explain, overlay_png
from worker.model_files import weights_path

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=2)
def _load(name: str, sha256: str, device: str) -> weights.LoadedModel:
    # Keyed by the file's hash too, as model_jobs' own; unfused, so its layers can be hooked.
    return weights.load(weights_path(name), device, fused=False)


def explanation_render(version_id: int, image_id: int, label_id: int | None) -> str | None:
    """Make and keep the heat map of ``label_id`` (None: the top label) by the version for
    the image; returns its stored name. None, with the reason kept for the next request,
    when the image cannot be decoded, the model has no such label or its file is gone."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    row = Image.objects.filter(pk=image_id).values_list("project_id", "file", "display").first()
    try:
        if version is None or row is None or row[0] != version.project_id:
            return None  # deleted meanwhile
        _, image_file, display_file = row
        try:
            return _render(version, image_file, display_file or image_file, label_id)
        except (BadImage, IndexError, weights.WeightsFormatError, *DECODE_ERRORS) as exc:
            logger.warning("No heat map of image %s by version %s: %s", image_id, version_id, exc)
            reason = str(exc) or type(exc).__name__
        except Exception as exc:
            # Anything else (the GPU's memory, a file gone): logged whole, and the reason
            # kept like the others', or each poll would send the same failing work again.
            logger.exception("No heat map of image %s by version %s", image_id, version_id)
            reason = f"{type(exc).__name__}: {exc}"
        explanation_failure_store(
            version=version, image_file=image_file, label_id=label_id, reason=reason
        )
        return None
    finally:
        explanation_settled(version_id=version_id, image_id=image_id, label_id=label_id)


def _render(version: ModelVersion, image_file: str, display_file: str, label_id: int | None) -> str:
    configure_threads(setting=settings.LABELER_TORCH_THREADS)
    device = select_device(settings.LABELER_DEVICE)
    loaded = _load(version.weights, version.weights_sha256, str(device))
    label_ids = [int(label) for label in loaded.meta["label_ids"]]
    if label_id is not None and label_id not in label_ids:
        raise IndexError(f"version {version.version} has no output for label {label_id}")
    with file_open(image_file) as handle:
        content = handle.read()
    pixels = decode_bytes(
        image_file,
        content,
        image_size=loaded.meta["image_size"],
        grayscale=loaded.meta["grayscale"],
    )
    result = explain(loaded, pixels, None if label_id is None else label_ids.index(label_id))
    if display_file != image_file:
        with file_open(display_file) as handle:
            content = handle.read()
    display = np.asarray(image_decode_upright(content, mode="RGB"))
    return explanation_store(
        version=version,
        image_file=image_file,
        label_id=label_ids[result.label_index],
        overlay_png=overlay_png(display, result.heat),
        probabilities=dict(zip(label_ids, result.probabilities.tolist(), strict=True)),
    )
