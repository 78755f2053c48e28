"""The worker's ML jobs: train a run, predict a chunk of images.

Glue between the domain services (what to train on, where results go) and the ML
building blocks in ``worker.ml`` (decode, fit, save, predict), which know arrays, files
and configs, never the database; this module reaches torch only through them. The
services decide and record; these functions only move data between them, so a killed
worker leaves at worst a running run (reaped later) and a weights file no version points
at, never a half-made version.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import numpy as np
from django.conf import settings

from labeler.images.models import Image
from labeler.images.pixels.model_inputs import input_cache
from labeler.images.stored.references import file_open
from labeler.predictions import prelabel, runs
from labeler.predictions.dataset import targets_array
from labeler.predictions.evaluation import classification_metrics, metric_intervals
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import current_model
from labeler.predictions.test_outputs import TestOutputs
from labeler.projects.models import Project
from labeler.words import counted
from worker import held_out
from worker.label_check import label_check_folds, label_check_save
from worker.ml import weights
from worker.ml.architectures import pretrained_available
from worker.ml.data import decode_files
from worker.ml.device import configure_threads, decode_threads, select_device
from worker.ml.inference import predict_files
from worker.ml.training import Cancelled, FitResult, fit
from worker.model_files import weights_name, weights_path

logger = logging.getLogger(__name__)


def _open(name: str) -> Any:
    return file_open(name)  # stored here, or read in place (labeler.images.stored.references)


def train(run_id: int) -> None:
    """Claim the run and train it; a failure or cancel is recorded on the run, not raised."""
    try:
        configure_threads(setting=settings.LABELER_TORCH_THREADS)
        device = str(select_device(settings.LABELER_DEVICE))
        runs.training_hashes_wait(run_id=run_id)
        plan = runs.training_run_begin(
            run_id=run_id,
            device=device,
            pretrained=pretrained_available(settings.LABELER_PRETRAINED_DIR),
        )
        if plan is None:
            return
        _train(plan, device)
    except Cancelled:
        runs.training_run_cancelled(run_id=run_id)
    except Exception as exc:
        logger.exception("Training run %s failed", run_id)
        runs.training_run_fail(run_id=run_id, message=f"{type(exc).__name__}: {exc}")


class _Heartbeat:
    """The run's heartbeat between epochs, written at most every
    ``LABELER_TRAINING_HEARTBEAT_SECONDS``; False once the run should stop."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.every = settings.LABELER_TRAINING_HEARTBEAT_SECONDS
        self.last = time.monotonic()

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return True
        self.last = now
        return runs.training_run_heartbeat(run_id=self.run_id)


def _train(plan: runs.TrainingPlan, device: str) -> None:
    config, data, run = plan.config, plan.data, plan.run
    logger.info("Training run %s: %s", run.pk, config["choice"]["reason"])
    heartbeat = _Heartbeat(run.pk)

    def stage(text: str) -> None:  # what the Models page says between and after epochs
        runs.training_run_stage(run_id=run.pk, stage=text)

    stage(f"Decoding {len(data.files)} images")
    # Every image decoded once, before the first epoch, on every core (torch waits
    # meanwhile); a kept model input is read instead of its file.
    decoded = decode_files(
        data.files,
        _open,
        image_size=config["image_size"],
        grayscale=config["grayscale"],
        threads=decode_threads(),
        keys=data.sha256s,
        cache=input_cache(),
        beat=heartbeat,
    )
    position = {row: i for i, row in enumerate(decoded.ok)}
    train_rows = [r for r in plan.split.train if r in position]
    val_rows = [r for r in plan.split.validation if r in position]
    if not train_rows or not val_rows:
        raise ValueError("No training or validation image could be decoded.")
    y_val = targets_array(data, val_rows, multi_label=plan.multi_label)
    stage("Training")
    # Only training and validation images reach the fit: the test images are predicted
    # once the model is chosen, by the model as it is saved.
    result = fit(
        x_train=decoded.images[[position[r] for r in train_rows]],
        y_train=targets_array(data, train_rows, multi_label=plan.multi_label),
        x_val=decoded.images[[position[r] for r in val_rows]],
        y_val=y_val,
        multi_label=plan.multi_label,
        num_labels=len(data.label_ids),
        config=config,
        device=device,
        on_epoch=lambda log: runs.training_run_progress(run_id=run.pk, log=dict(log)),
        on_batch=heartbeat,
        pretrained_dir=settings.LABELER_PRETRAINED_DIR,
    )
    metrics = _validation_metrics(plan, result, y_val, undecodable=len(decoded.bad))
    meta = {
        "architecture": config["architecture"],
        "label_ids": data.label_ids,
        "thresholds": result.thresholds,
        "image_size": config["image_size"],
        "grayscale": config["grayscale"],
        "channels": 1 if config["grayscale"] else 3,
        "normalisation": result.normalisation,
        "multi_label": plan.multi_label,
    }
    stage(f"Scoring the model on the {len(plan.split.test)} held-out test images")
    tested = held_out.held_out_predict(
        plan, weights.LoadedModel(result.model, meta), decoded, position
    )
    metrics["test"] = held_out.held_out_scorecard(tested)
    folds = int(config.get("label_check_folds", 0) or 0)
    if folds:
        stage(f"Label check: training {folds} fold models to find labels worth a second look")
    checked = label_check_folds(plan, decoded.images, position, device, heartbeat, tested)
    if checked is not None:
        metrics["label_check"] = checked.summary()
    stage("Saving the weights and comparing with the current version")
    name = weights_name(run.project_id, run.pk)
    sha256 = weights.save(
        weights_path(name),
        model=result.model,
        meta=meta,
        trained_on=[data.image_ids[r] for r in train_rows],
    )
    version = runs.training_run_finish(
        run_id=run.pk,
        weights=name,
        weights_sha256=sha256,
        metrics=metrics,
        validation_image_ids=[data.image_ids[r] for r in val_rows],
        baseline=_baseline(run.project, tested, device, heartbeat),
        test_outputs=tested,
    )
    if version is None and not ModelVersion.objects.filter(weights=name).exists():
        weights_path(name).unlink(missing_ok=True)
    elif checked is not None:
        label_check_save(run.pk, checked)


def _validation_metrics(
    plan: runs.TrainingPlan, result: FitResult, y_val: np.ndarray, *, undecodable: int
) -> dict[str, Any]:
    """The figures on the validation images, which chose the kept epoch and the thresholds:
    the learning curve's, kept beside the test figures."""
    metrics = classification_metrics(
        y_true=y_val,
        probabilities=result.val_probabilities,
        label_ids=plan.data.label_ids,
        multi_label=plan.multi_label,
        thresholds=result.thresholds,
    )
    metrics.update(best_epoch=result.best_epoch, undecodable=undecodable)
    # The epoch whose weights are saved (the learning curve marks it), and how sure the
    # figures are on this many validation images.
    metrics["kept_epoch"] = result.best_epoch
    metrics.update(
        metric_intervals(
            y_true=y_val,
            probabilities=result.val_probabilities,
            multi_label=plan.multi_label,
            thresholds=result.thresholds,
        )
    )
    return metrics


def _baseline(
    project: Project,
    tested: TestOutputs | None,
    device: str,
    beat: _Heartbeat | None = None,
) -> dict[str, Any] | None:
    """The current and the new model, paired on the new one's test images that the current
    one was neither trained nor validated on (``held_out.paired_baseline``).

    Images the current model saw would flatter it (a model trained before the project had
    a test split trained on some of today's test images), so they are left out. None when
    there is no current model; ``images`` 0 when no test image is left (or the project has
    none yet), or when the current one cannot be compared (``unmeasured`` says why: other
    labels, or weights that cannot be read).
    """
    current = current_model(project)
    if current is None or not current.weights:
        return None
    if tested is None:
        return {"version": current.version, "images": 0, "seen": 0, "split": "test"}
    unmeasured = {"version": current.version, "images": 0, "seen": 0, "split": "test"}
    try:
        loaded = _load(current.weights, current.weights_sha256, device)
        if list(loaded.meta["label_ids"]) != list(tested.label_ids):
            return {**unmeasured, "unmeasured": "its labels differ"}
        seen = set(current.validation_image_ids or [])
        if loaded.trained_on is not None:
            seen.update(int(i) for i in loaded.trained_on.tolist())
        return held_out.paired_baseline(
            current.version, loaded, tested, seen, _open, device=device, beat=beat
        )
    except Exception:  # a missing or unreadable old model is no reason to fail the new one
        logger.exception("Could not measure model version %s for comparison", current.pk)
        return {**unmeasured, "unmeasured": "its weights could not be read"}


@functools.lru_cache(maxsize=2)
def _load(name: str, sha256: str, device: str) -> weights.LoadedModel:
    # Keyed by the file's hash too: a retrained file under the same name is loaded afresh.
    return weights.load(weights_path(name), device)


def predict(model_version_id: int, image_ids: list[int]) -> int:
    """Predict a chunk of images with the version and store the probabilities.

    Images that cannot be decoded get an empty prediction, so the pass still completes.
    Returns how many predictions were stored.
    """
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        return 0
    configure_threads(setting=settings.LABELER_TORCH_THREADS)
    device = select_device(settings.LABELER_DEVICE)
    loaded = _load(version.weights, version.weights_sha256, str(device))
    stored = Image.objects.filter(pk__in=image_ids, project_id=version.project_id)
    files = {pk: (name, sha256) for pk, name, sha256 in stored.values_list("pk", "file", "sha256")}
    ids = [i for i in image_ids if i in files]
    ok, probabilities, bad = predict_files(
        loaded,
        [files[i][0] for i in ids],
        _open,
        keys=[files[i][1] for i in ids],
        cache=input_cache(),
        threads=decode_threads(device),
        gpu_decode=settings.LABELER_GPU_DECODE,
    )
    if bad:
        logger.warning(
            "Model version %s could not decode %s", version.pk, counted(len(bad), "image")
        )
    failed = sorted(set(range(len(ids))) - set(ok))
    return prelabel.predictions_store(
        model_version_id=version.pk,
        image_ids=[ids[i] for i in ok],
        probabilities=probabilities,
        label_ids=list(loaded.meta["label_ids"]),
        undecodable_ids=[ids[i] for i in failed],
        gone=len(image_ids) - len(ids),
    )
