"""The worker's side of the prediction API: decode the request's images, run the version's
kept model on them (``worker.ml.engine``: ONNX Runtime on the CPU, the requests of the
process batched together), and log and answer through ``labeler.serving.services``.

A request (``serve``) carries each image inline (``content``: its bytes from the resident
process, base64 text through a broker: ``labeler.jobs.call``) or names a stored
file (``file``); a job (``serve_job``) names files only, its uploads kept in storage. A
request with ``explain`` also answers, per image, a heat map of its most probable label
(or of ``explain_label``) drawn over the image (``worker.serving_explain``).
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from labeler.images.stored.references import file_open
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Label
from labeler.serving import services
from worker.ml import serving as ml_serving
from worker.ml.device import configure_threads, decode_threads, select_device
from worker.ml.engine import Engine
from worker.model_files import weights_path

logger = logging.getLogger(__name__)


def serve(request: dict[str, Any]) -> dict[str, Any]:
    """Predict the request's images; returns ``{"predictions": [...]}`` in their order,
    an image that cannot be decoded answered by ``{"name", "error"}``. A refused request
    is ``{"error", "field"}``: a version without weights, a label it has no output for."""
    version = _version(request["version_id"])
    if version is None or not version.weights:
        return {
            "error": f"Model version {request['version_id']} has no weights to predict with.",
            "field": "version",
        }
    engine = _engine(version)
    explain_label = request.get("explain_label")
    if explain_label is not None and explain_label not in engine.loaded.meta["label_ids"]:
        return {
            "error": f"explain_label: version {version.version} was trained without label "
            f"{explain_label}; it has no output to explain for it.",
            "field": "explain_label",
        }
    predictions = _predictions(version, engine, request)
    # A request with an image that did not decode is refused whole: no map is worth making.
    if request.get("explain") and not any("error" in answer for answer in predictions):
        # Imported for heat maps only: Grad-CAM brings matplotlib, scipy and torch's
        # compiler, seconds of a process's first prediction that a plain one never needs.
        from worker import serving_explain

        unfused = _unfused(version)
        # Grad-CAM hooks the model's layers: two requests' maps at once on one model would
        # each record the other's activations. Heat maps are made one request at a time.
        with _explaining:
            serving_explain.explanations_add(
                unfused, predictions, _opener(request["items"]), label_id=explain_label
            )
    return {"predictions": predictions}


def _predictions(
    version: ModelVersion, engine: Engine, request: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each item's answer, in order; those that decoded are logged as served (after the
    answer, unless ``request["log_now"]``)."""
    items = request["items"]
    loaded = engine.loaded
    served = ml_serving.serve_files(
        engine,
        [str(position) for position in range(len(items))],
        _opener(items),
        threads=decode_threads(loaded.device),
    )
    answers: list[dict[str, Any] | None] = [None] * len(items)
    for position, reason in served.bad:
        item = items[int(position)]
        answers[int(position)] = {"name": item["name"], "error": f"Cannot be decoded: {reason}."}
    good = [items[position] for position in served.ok]
    recorded = iter(
        services.served_predictions_record(
            version=version,
            inputs=good,
            outputs=services.ModelOutputs(
                label_ids=list(loaded.meta["label_ids"]),
                multi_label=bool(loaded.meta["multi_label"]),
                thresholds=loaded.meta.get("thresholds"),
                probabilities=served.probabilities,
                embeddings=served.embeddings,
                durations_ms=served.durations_ms,
            ),
            caller_id=request.get("caller_id"),
            token_id=request.get("token_id"),
            wait=bool(request.get("log_now")),
            names=_label_names(tuple(loaded.meta["label_ids"])),
        )
        if good
        else []
    )
    return [answer or next(recorded) for answer in answers]


def serve_job(job_id: int) -> None:
    """Run a queued prediction job and keep its results (a failure is kept as its message)."""
    job = services.prediction_job_start(job_id=job_id)
    if job is None:
        return
    began = time.perf_counter()
    try:
        answered = serve(
            {
                "version_id": job.model_version_id,
                "items": job.inputs,
                "caller_id": job.caller_id,
                "token_id": job.token_id,
                "log_now": True,  # its results are kept: their log rows exist with them
            }
        )
    except Exception as exc:
        logger.exception("Prediction job %s failed", job_id)
        services.prediction_job_fail(job=job, message=f"{type(exc).__name__}: {exc}")
        return
    if "error" in answered:
        services.prediction_job_fail(job=job, message=answered["error"])
        return
    took = (time.perf_counter() - began) * 1000
    services.prediction_job_finish(job=job, results=answered["predictions"], duration_ms=took)


# A version's row (its weights are set once, when it is made) and its labels' names are
# read once this long, not on every request: a renamed label is answered under its new
# name within these seconds.
KEPT_SECONDS = 10.0
_explaining = threading.Lock()
_kept_versions: dict[int, tuple[float, ModelVersion]] = {}
_kept_names: dict[tuple[int, ...], tuple[float, dict[int, str]]] = {}


def _version(version_id: int) -> ModelVersion | None:
    now = time.monotonic()
    kept = _kept_versions.get(version_id)
    if kept is not None and now - kept[0] < KEPT_SECONDS:
        return kept[1]
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is not None:
        _kept_versions[version_id] = (now, version)
    return version


def _label_names(label_ids: tuple[int, ...]) -> dict[int, str]:
    now = time.monotonic()
    kept = _kept_names.get(label_ids)
    if kept is not None and now - kept[0] < KEPT_SECONDS:
        return kept[1]
    names = dict(Label.objects.filter(pk__in=label_ids).values_list("pk", "name"))
    _kept_names[label_ids] = (now, names)
    return names


def _engine(version: ModelVersion) -> Engine:
    configure_threads(setting=settings.LABELER_TORCH_THREADS)  # once a process; then a no-op
    device = str(select_device(settings.LABELER_DEVICE))
    onnx_dir = Path(settings.LABELER_MODEL_DIR) / "serving" if settings.LABELER_SERVE_ONNX else None
    return ml_serving.engine_kept(
        version.pk, version.weights_sha256, weights_path(version.weights), device,
        onnx_dir=onnx_dir, delay=settings.LABELER_PREDICT_BATCH_DELAY_MS / 1000,
    )  # fmt: skip


def _unfused(version: ModelVersion) -> Any:
    configure_threads(setting=settings.LABELER_TORCH_THREADS)
    device = str(select_device(settings.LABELER_DEVICE))
    return ml_serving.model_kept(
        version.pk, version.weights_sha256, weights_path(version.weights), device
    )


def _opener(items: list[dict[str, Any]]) -> Callable[[str], Any]:
    """Opens an item by its position: its inline bytes, or its stored file."""

    def open_item(position: str) -> Any:
        item = items[int(position)]
        content = item.get("content")
        if isinstance(content, bytes):
            return io.BytesIO(content)
        if content is not None:
            return io.BytesIO(base64.b64decode(content))
        return file_open(item["file"])

    return open_item
