"""A training run's life: created, claimed by a worker, progressing, finished or failed.

The worker calls these around the ML code (worker/model_jobs.py); each is atomic and safe
to repeat, because a task may run twice (acks_late redelivery) or die half-way. A model
version exists only once a run finished with its weights in place. A retraining is
started by ``training_refresh_if_due`` after the final labels were refreshed
(``labeler.flows.agreement_refresh``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labeler import cache_keys, jobs
from labeler.agreement.final_labels import final_labels_fresh
from labeler.annotations.models import Annotation
from labeler.errors import Conflict, DomainError
from labeler.images.duplicates.groups import duplicate_groups_settled_check, images_hashing
from labeler.predictions.announcements import (
    training_failed_announce,
    training_finished_announce,
)
from labeler.predictions.dataset import (
    Split,
    TrainingSet,
    training_set,
    training_set_check,
    training_split,
)
from labeler.predictions.models import (
    ACTIVE_RUN_STATUSES,
    ModelVersion,
    RunReason,
    RunStatus,
    TrainingRun,
)
from labeler.predictions.promotion import model_version_promote, promotion_decide
from labeler.predictions.selectors import image_side_median
from labeler.predictions.test_outputs import TestOutputs, outputs_row
from labeler.predictions.test_split import test_split_assign
from labeler.predictions.training_choice import TrainingFacts, training_config_resolve
from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import Label, Project
from labeler.task_names import Task

logger = logging.getLogger(__name__)
HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "kept_epoch")
# How long a retraining that waits for the worker's hashes waits before it is tried again.
HASHING_RECHECK_SECONDS = 30


@dataclass(frozen=True)
class TrainingPlan:
    """What a claimed run trains on: its config, the data and the split."""

    run: TrainingRun
    config: dict[str, Any]
    multi_label: bool
    data: TrainingSet
    split: Split


def training_run_create(
    *,
    project: Project,
    config: dict[str, Any],
    label_count: int,
    reason: str = RunReason.MANUAL,
    requested_by: User | None = None,
) -> TrainingRun:
    """Queue a run and its task; Conflict (with the active run's id) when one is active."""
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                project=project,
                reason=reason,
                requested_by=requested_by,
                config=config,
                epochs=config["epochs"],
                label_count=label_count,
            )
    except IntegrityError:  # the one-active-run constraint: another run got in first
        active = training_run_active(project)
        raise Conflict(
            "A training run is already queued or running for this project.",
            run=active.pk if active else None,
        ) from None
    jobs.enqueue(Task.ML_TRAIN, run.pk)
    return run


def training_run_active(project: Project) -> TrainingRun | None:
    """The project's queued or running run, if any."""
    return TrainingRun.objects.filter(project=project, status__in=ACTIVE_RUN_STATUSES).first()


def training_refresh_if_due(*, project: Project) -> TrainingRun | None:
    """Start a run (reason refresh) once final labels grew by ``retrain_after`` since the last.

    Called after final labels were refreshed. Nothing happens while a run is active,
    with ``retrain_after`` 0, without enough labels, or with a stale training config;
    nor while an import is still storing files (``import_settles_at``: the import's last
    refresh comes after it), nor while the worker is still hashing images for their
    near-duplicate groups (a refresh is scheduled ``HASHING_RECHECK_SECONDS`` later to
    try again, one at a time), nor while a label that annotators or an import gave some
    image has no final label yet: a model that never saw a class would be promoted.
    """
    if project.retrain_after <= 0 or training_run_active(project) is not None:
        return None
    data = training_set(project)
    last = TrainingRun.objects.filter(project=project).order_by("-id").first()
    if len(data) - (last.label_count if last else 0) < project.retrain_after:
        return None
    try:
        _import_settled_check(project)
        duplicate_groups_settled_check(project=project)
        _labels_covered_check(project, data)
        training_set_check(data)
        config = training_config_clean(project.training)
        return training_run_create(
            project=project, config=config, label_count=len(data), reason=RunReason.REFRESH
        )
    except DomainError as exc:
        logger.info("No retraining of project %s: %s", project.pk, exc.message)
        if exc.details.get("hashing"):
            _retraining_recheck(project)
        return None


def _retraining_recheck(project: Project) -> None:
    """Refresh the project again once its hashes are likely in (an import's may take a
    while and no label may come to refresh it); one such refresh scheduled at a time."""
    key = cache_keys.retraining_after_hashing(project.pk)
    try:
        if cache.add(key, 1, timeout=HASHING_RECHECK_SECONDS):
            jobs.enqueue_in(HASHING_RECHECK_SECONDS, Task.AGREEMENT_REFRESH, project.pk)
    except jobs.UNAVAILABLE as exc:  # the next label's refresh tries again
        logger.warning("Retraining of project %s not scheduled again (%s)", project.pk, exc)


def _import_settled_check(project: Project) -> None:
    settles = Project.objects.filter(pk=project.pk).values_list("import_settles_at", flat=True)
    settles_at = settles.first()
    if settles_at is not None and settles_at > timezone.now():
        raise Conflict(f"An import is still storing files (it settles at {settles_at:%H:%M:%S}).")


def _labels_covered_check(project: Project, data: TrainingSet) -> None:
    """Refuse while a label given to some image has no final-labelled image to learn from."""
    covered = {label_id for labels in data.targets for label_id in labels}
    given = Label.objects.filter(project=project).exclude(pk__in=covered)
    given = given.filter(Exists(Annotation.labels.through.objects.filter(label_id=OuterRef("pk"))))
    names = sorted(given.values_list("name", flat=True))
    if names:
        raise Conflict(
            f"No final label yet for {', '.join(names)}, which images were given: the model "
            "would never see it."
        )


@transaction.atomic
def training_run_begin(
    *, run_id: int, device: str, pretrained: Collection[str] = ()
) -> TrainingPlan | None:
    """Claim a queued run for this worker (or a running one whose worker went quiet).

    Returns None when there is nothing to do: the run is gone, finished, or running
    with a live heartbeat (a duplicate delivery). Too few labels by now raises
    ValidationFailed, which the caller records as the run's failure. The run trains on
    every label given before it was claimed, final labels being brought up to date first.

    The settings its config leaves to the system are settled here and recorded on the
    run (``config["choice"]`` says what and why), from the project's image sizes and
    ``pretrained``: the backbones whose weights this worker holds.

    The project's final-labelled images without a side of the held-out test split get
    theirs here (``test_split_assign``): the run trains and validates on the development
    images, and its version is scored on the test images.

    The split keeps each near-duplicate group on one side, so a run is not claimed while
    the worker is still hashing images of the project (Conflict, recorded as the run's
    failure, with how many); where the groups leave no such split, the run says so in its
    message and its label check's folds ignore the groups too (``training_split``).
    """
    run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or not _claimable(run):
        return None
    project = run.project
    final_labels_fresh(project=project)
    duplicate_groups_settled_check(project=project)
    data = training_set(project)
    training_set_check(data)
    side, sampled = image_side_median(project)
    facts = TrainingFacts(
        median_side=side, sampled=sampled, pretrained=frozenset(pretrained), device=device
    )
    config = run.config = training_config_resolve(run.config, facts)
    split = training_split(
        data,
        share=config["validation_share"],
        seed=config["seed"],
        multi_label=project.multi_label,
        sides=test_split_assign(project=project, data=data),
    )
    if split.note:
        data = replace(data, groups={})  # the folds cannot keep them apart either
    now = timezone.now()
    run.status = RunStatus.RUNNING
    run.device = device[:32]
    run.epoch, run.progress, run.history = 0, 0.0, []
    run.message = split.note
    run.label_count = len(data)
    run.train_count, run.validation_count = len(split.train), len(split.validation)
    run.test_count = len(split.test)
    run.started_at = run.heartbeat_at = now
    run.save()
    return TrainingPlan(
        run=run, config=config, multi_label=project.multi_label, data=data, split=split
    )


def training_hashes_wait(*, run_id: int, poll: float = 2.0) -> None:
    """Wait, up to ``LABELER_HASHING_WAIT_SECONDS``, while the run's project has images the
    worker is still hashing for near-duplicates, before the run is claimed.

    A training asked for right after an upload is taken (the request does not wait), and
    its split needs every image's group; claiming it meanwhile would fail it. The run stays
    queued while it waits; past the wait ``training_run_begin`` refuses it with how many
    images were still being hashed.
    """
    run = TrainingRun.objects.filter(pk=run_id).select_related("project").first()
    if run is None:
        return
    deadline = time.monotonic() + settings.LABELER_HASHING_WAIT_SECONDS
    while images_hashing(run.project).exists() and time.monotonic() < deadline:
        time.sleep(poll)


def training_run_claimable(*, run_id: int) -> bool:
    """Whether ``training_run_begin`` would claim the run now (it decides again, locked).

    The training task asks first, before it loads torch: a duplicate delivery of a run
    whose worker is alive (one put back in the queue when its pool process was killed, say)
    is dropped at once, while the heartbeat is still fresh, instead of claiming the run
    after seconds of imports have made that heartbeat stale; the reaper fails the run
    later if no heartbeat comes.
    """
    run = TrainingRun.objects.filter(pk=run_id).first()
    return run is not None and _claimable(run)


def _claimable(run: TrainingRun) -> bool:
    if run.status == RunStatus.QUEUED:
        return not run.cancel_requested
    return run.status == RunStatus.RUNNING and _quiet(run)


def _quiet(run: TrainingRun) -> bool:
    """Whether the run's worker stopped answering (no heartbeat for the stale time)."""
    return run.heartbeat_at is None or run.heartbeat_at < _stale_before()


def _stale_before() -> Any:
    return timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_STALE_SECONDS)


@transaction.atomic
def training_run_progress(*, run_id: int, log: dict[str, Any]) -> bool:
    """Record one epoch and the heartbeat; False once the run should stop (cancel, reaped)."""
    run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING:
        return False
    entry = {key: _number(log.get(key)) for key in HISTORY_KEYS}
    epoch = int(log.get("epoch") or len(run.history) + 1)
    run.epochs = int(log.get("epochs") or run.epochs)
    run.epoch = epoch
    run.progress = min(1.0, epoch / run.epochs) if run.epochs else 0.0
    run.history = [*[h for h in run.history if h.get("epoch") != epoch], entry]
    run.heartbeat_at = timezone.now()
    run.save(update_fields=["epoch", "epochs", "progress", "history", "heartbeat_at"])
    return not run.cancel_requested


def training_run_stage(*, run_id: int, stage: str) -> bool:
    """Say what the running run is doing now, between its epochs and its end (decoding,
    scoring the test images, the label check's folds, saving); the heartbeat too. False
    once the run should stop, as ``training_run_heartbeat``."""
    running = TrainingRun.objects.filter(pk=run_id, status=RunStatus.RUNNING)
    if not running.update(stage=stage[:200], heartbeat_at=timezone.now()):
        return False
    return not running.filter(cancel_requested=True).exists()


def training_run_heartbeat(*, run_id: int) -> bool:
    """Note that the run's worker is alive between epochs (mid-epoch, or decoding);
    False once the run should stop: cancelled, or no longer running (reaped)."""
    running = TrainingRun.objects.filter(pk=run_id, status=RunStatus.RUNNING)
    if not running.update(heartbeat_at=timezone.now()):
        return False
    return not running.filter(cancel_requested=True).exists()


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if isinstance(value, int) else number


@transaction.atomic
def training_run_finish(
    *,
    run_id: int,
    weights: str,
    weights_sha256: str,
    metrics: dict[str, Any],
    validation_image_ids: list[int],
    baseline: dict[str, Any] | None = None,
    test_outputs: TestOutputs | None = None,
) -> ModelVersion | None:
    """Record the trained model as the project's next version and mark the run succeeded.

    Called once the weights file is in place. The version is promoted when there is no
    current model, or unless it is worse beyond noise than the current one on the same
    test images (``baseline``, see ``promotion.promotion_decide``). ``test_outputs``: its
    probabilities on the held-out test images, stored with it (none without test images).
    Returns None (and records nothing) when the run is no longer running: cancelled
    meanwhile, reaped, or finished by an earlier delivery. Webhooks hear
    ``training.finished`` (and ``model.promoted`` when it was); a failed run's end,
    ``training.failed``.
    """
    run = TrainingRun.objects.select_for_update().select_related("project").get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return None
    if run.cancel_requested:
        _run_end(run, RunStatus.CANCELLED, "Cancelled before the model was saved.")
        return None
    project = run.project
    latest = ModelVersion.objects.filter(project=project).order_by("-version").first()
    version = ModelVersion.objects.create(
        project=project,
        version=(latest.version + 1) if latest else 1,
        run=run,
        architecture=run.config.get("architecture", ""),
        label_count=run.label_count,
        metrics={**metrics, "baseline": baseline},
        validation_image_ids=validation_image_ids,
        weights=weights,
        weights_sha256=weights_sha256,
    )
    if test_outputs is not None and len(test_outputs):
        outputs_row(version, test_outputs).save()
    promote, note = promotion_decide(
        project=project, baseline=baseline, label_count=run.label_count
    )
    # The split's note (groups it could not keep apart) stays beside the promotion's.
    _run_end(run, RunStatus.SUCCEEDED, " ".join(filter(None, (run.message, note))))
    if promote:
        version = model_version_promote(model_version=version, note=note)
    else:
        version.promotion_note = note
        version.save(update_fields=["promotion_note"])
    training_finished_announce(run=run, version=version)
    return version


def training_run_fail(*, run_id: int, message: str) -> None:
    """Mark an active run failed with the reason (no-op once it ended)."""
    _run_end_if_active(run_id, RunStatus.FAILED, message)


def training_run_cancelled(*, run_id: int) -> None:
    """Mark a run cancelled once its worker stopped training at the cancel request."""
    _run_end_if_active(run_id, RunStatus.CANCELLED, "Cancelled.")


@transaction.atomic
def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Cancel a run: a queued one at once, a running one at its next heartbeat (between
    batches, or after an epoch), or at once when its heartbeat is stale: its worker is
    gone and no heartbeat will come."""
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.status == RunStatus.QUEUED:
        _run_end(run, RunStatus.CANCELLED, "Cancelled before it started.")
    elif run.status == RunStatus.RUNNING and _quiet(run):
        _run_end(run, RunStatus.CANCELLED, "Cancelled: its worker had stopped answering.")
    elif run.status == RunStatus.RUNNING:
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
    else:
        raise Conflict(f"Training run {run.pk} already ended ({run.status}).", field="status")
    return run


def training_runs_resume(*, queued_before: Any = None) -> int:
    """Send the training task again for every queued run (created before ``queued_before``,
    when given); returns how many.

    A server that ran its tasks in-process lost its queue when it stopped, and a run
    created while the broker was down was never sent. Claiming a run is atomic
    (``training_run_begin``), so a run sent twice still trains once.
    """
    queued = TrainingRun.objects.filter(status=RunStatus.QUEUED, cancel_requested=False)
    if queued_before is not None:
        queued = queued.filter(created_at__lt=queued_before)
    ids = list(queued.values_list("pk", flat=True))
    for run_id in ids:
        jobs.enqueue(Task.ML_TRAIN, run_id)
    return len(ids)


def training_runs_reap(project: Project | None = None) -> int:
    """Fail running runs (of one project, or all) whose heartbeat stopped (their worker is
    gone); returns how many."""
    stale = TrainingRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=_stale_before())
    if project is not None:
        stale = stale.filter(project=project)
    reaped = 0
    for run_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            run = TrainingRun.objects.select_for_update().get(pk=run_id)
            if _claimable(run) and run.status == RunStatus.RUNNING:
                _run_end(run, RunStatus.FAILED, "Worker lost: no heartbeat.")
                reaped += 1
    return reaped


@transaction.atomic
def _run_end_if_active(run_id: int, status: str, message: str) -> None:
    run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is not None and run.status in ACTIVE_RUN_STATUSES:
        _run_end(run, status, message)


def _run_end(run: TrainingRun, status: str, message: str) -> None:
    run.status = status
    run.message = message[:10_000]
    run.finished_at = timezone.now()
    if status == RunStatus.SUCCEEDED:
        run.progress = 1.0
    run.save(update_fields=["status", "message", "finished_at", "progress"])
    if status == RunStatus.FAILED:
        training_failed_announce(run=run)
