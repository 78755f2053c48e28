"""The worker's packaging of a model version: its files exported, checked, timed and carded.

Glue, as ``worker.model_jobs`` is: the version and its facts come from the services
(``labeler.predictions.packages``), the files from ``worker.ml.export``; the card from
``labeler.predictions.model_card``. A file already in the version's folder is kept; a
model file exported here is checked against the server's own forward pass
(``worker.ml.inference.predict_tensor``) before it is kept, and the card is written
again whenever a model file was.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from labeler.predictions import model_card, packages
from labeler.predictions.model_card_markdown import card_markdown
from labeler.predictions.models import ModelVersion
from labeler.slices.report import slice_report
from worker.ml import export, weights
from worker.ml.device import configure_threads
from worker.ml.inference import predict_tensor
from worker.model_files import weights_path

logger = logging.getLogger(__name__)
# The exported files must give the server's probabilities to this much on random images.
TOLERANCE = 1e-4
CHECK_IMAGES = 16
HASH_METHOD = (
    "sha256 over one line per image, '<image content sha256>\\t<final label names, sorted, "
    "comma-joined>\\n', the lines sorted; the labels as they are when the model was packaged."
)


def package(version_id: int) -> None:
    """Package the version; a failure is recorded on its package, not raised."""
    version = packages.model_package_begin(version_id=version_id)
    if version is None:
        return
    try:
        files = _package(version)
    except Exception as exc:
        logger.exception("Packaging model version %s failed", version_id)
        packages.model_package_fail(version_id=version_id, message=f"{type(exc).__name__}: {exc}")
        return
    packages.model_package_finish(version_id=version_id, files=files)


def _package(version: ModelVersion) -> dict[str, dict[str, Any]]:
    configure_threads(setting=settings.LABELER_TORCH_THREADS)
    loaded = weights.load(weights_path(version.weights), "cpu")
    missing = set(packages.package_missing(version))
    models = _model_files(version, loaded, missing)
    described = {kind: _described(kind, data) for kind, data in models.items()}
    if missing:  # a model file made again, or a card file gone: the card again
        latency = export.cpu_latency(models["onnx"], models["torchscript"], loaded.meta)
        card = _card(version, loaded, described, latency)
        _write(version, "card_json", model_card.card_text(card).encode())
        _write(version, "card_md", card_markdown(card).encode())
    for kind in ("card_json", "card_md"):
        described[kind] = _described(kind, packages.package_path(version, kind).read_bytes())
    return described


def _model_files(
    version: ModelVersion, loaded: weights.LoadedModel, missing: set[str]
) -> dict[str, bytes]:
    """Each model file's bytes: read where it lies, else exported, checked and written."""
    made: dict[str, bytes] = {}
    if missing & set(packages.MODEL_FILES):
        module = export.packaged(loaded)
        example = export.example_pixels(loaded.meta)
        made = {
            "onnx": export.onnx_bytes(module, example),
            "torchscript": export.torchscript_bytes(module, example),
        }
        pixels = export.example_pixels(loaded.meta, batch=CHECK_IMAGES, seed=7)
        expected = predict_tensor(loaded, pixels)
        difference = export.exported_difference(made["onnx"], made["torchscript"], expected, pixels)
        if difference > TOLERANCE:
            raise ValueError(
                f"The exported files differ from the server's probabilities by {difference:.2g}."
            )
    files = {}
    for kind in packages.MODEL_FILES:
        if kind in missing:
            _write(version, kind, made[kind])
            files[kind] = made[kind]
        else:
            files[kind] = packages.package_path(version, kind).read_bytes()
    return files


def _write(version: ModelVersion, kind: str, data: bytes) -> None:
    weights.write_atomically(packages.package_path(version, kind), data)


def _described(kind: str, data: bytes) -> dict[str, Any]:
    name = packages.FILES[kind][0]
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _card(
    version: ModelVersion,
    loaded: weights.LoadedModel,
    files: dict[str, dict[str, Any]],
    latency: dict[str, Any],
) -> dict[str, Any]:
    project = version.project
    names = dict(project.labels.values_list("pk", "name"))
    label_names = {int(pk): names.get(int(pk), f"label {pk}") for pk in loaded.meta["label_ids"]}
    trained_at = version.created_at.date().isoformat()
    return model_card.card_json(
        facts={
            "project": project.name,
            "version": version.version,
            "trained_at": trained_at,
            "packaged_at": timezone.now().date().isoformat(),
        },
        meta=loaded.meta,
        label_names=label_names,
        training=_training(version, loaded, trained_at),
        test=model_card.test_metrics((version.metrics or {}).get("test"), label_names),
        slices=_weak_slices(version),
        files=files,
        latency=latency,
    )


def _training(version: ModelVersion, loaded: weights.LoadedModel, date: str) -> dict[str, Any]:
    """The final-label set's size and content hash: the images trained and validated on."""
    validated = [int(i) for i in version.validation_image_ids or []]
    trained = [] if loaded.trained_on is None else [int(i) for i in loaded.trained_on.tolist()]
    summary: dict[str, Any] = {
        "images": version.label_count,
        "trained": len(trained),
        "validated": len(validated),
        "date": date,
        "content_hash": None,
        "hash_method": HASH_METHOD,
        "reason": "The weights file does not list the images it was trained on.",
    }
    if loaded.trained_on is not None:
        pairs = packages.training_pairs(trained + validated)
        summary.update(images=len(pairs), content_hash=model_card.training_hash(pairs), reason=None)
    return summary


def _weak_slices(version: ModelVersion) -> dict[str, Any]:
    try:
        report = slice_report(version.project, version=version)
    except Exception as exc:  # a card without its slices beats no package
        logger.exception("No slice report for model version %s", version.pk)
        return model_card.weak_slices(None, f"The slice report failed: {type(exc).__name__}.")
    return model_card.weak_slices(report.get("flags"))
