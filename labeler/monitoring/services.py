"""The drift check's writes: a version's reference, and each check with its verdict."""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils import timezone

from labeler import jobs
from labeler.errors import Conflict, NotFound
from labeler.monitoring import selectors
from labeler.monitoring.models import DriftCheck, DriftReference
from labeler.monitoring.statistics import drift_verdict, verdict_reason
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import current_model
from labeler.projects.models import Project
from labeler.task_names import Task
from labeler.webhooks.events import DRIFT_ALARM
from labeler.webhooks.services import webhook_level_set

logger = logging.getLogger(__name__)

# The statistics' permutations and subsamples are drawn from this seed: one check of the
# same rows gives the same verdict.
CHECK_SEED = 0


@transaction.atomic
def drift_reference_store(
    *,
    model_version_id: int,
    image_ids: list[int],
    probabilities: np.ndarray,
    embeddings: np.ndarray,
    label_ids: list[int],
) -> DriftReference | None:
    """Keep the version's reference: each test image's embedding, top probability and top
    label (columns of ``probabilities`` in ``label_ids`` order). None if the version is gone;
    stored again, it replaces the former one."""
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        return None
    n = len(image_ids)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(n, -1 if n else 0)
    embeddings = np.asarray(embeddings, dtype=np.float32).reshape(n, -1 if n else 0)
    top = probabilities.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    reference, _ = DriftReference.objects.update_or_create(
        model_version=version,
        defaults={
            "image_ids": [int(i) for i in image_ids],
            "top_label_ids": [int(label_ids[k]) for k in top.tolist()],
            "confidences": probabilities.max(axis=1, initial=0.0)
            .astype(selectors.CONFIDENCE_DTYPE)
            .tobytes(),
            "embeddings": embeddings.astype(selectors.EMBEDDING_DTYPE).tobytes(),
            "dimension": int(embeddings.shape[1]),
        },
    )
    return reference


def drift_check_run(*, project_id: int, queue_reference: bool = True) -> DriftCheck | None:
    """Compare the served predictions of the project's window with its current version's
    test images, keep the check, and raise the alarm if the verdict says drift.

    Returns None when the version's reference is not computed yet: its computation is
    queued (``queue_reference``), and runs this check once done. Conflict when there is no
    current version, when it has no test images, or when the window holds fewer served
    predictions than ``drift_minimum_count``.
    """
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such project.")
    version = current_model(project)
    if version is None:
        raise Conflict("The project has no promoted model version to check for drift.")
    reference = selectors.drift_reference(version)
    if reference is None:
        if queue_reference:
            jobs.enqueue(Task.ML_DRIFT_REFERENCE, version.pk, True)
        return None
    if not reference.image_ids:
        raise Conflict(f"Model version {version.version} has no test images to compare with.")
    now = timezone.now()
    since = selectors.drift_window_start(project, now)
    count = selectors.served_count(project, version, since)
    if count < project.drift_minimum_count:
        raise Conflict(
            f"Only {count} predictions served by version {version.version} in the last "
            f"{project.drift_window_hours} hours; a drift check needs "
            f"{project.drift_minimum_count} (drift_minimum_count)."
        )
    return _check_record(project, version, reference, count, (since, now))


def _check_record(
    project: Project,
    version: ModelVersion,
    reference: DriftReference,
    count: int,
    window: tuple[datetime, datetime],
) -> DriftCheck:
    since, now = window
    recent = selectors.served_sample(project, version, since, dimension=reference.dimension)
    verdict = drift_verdict(
        recent,
        selectors.reference_sample(reference),
        rate=project.drift_false_alarm_rate,
        seed=CHECK_SEED,
    )
    embedding, confidence, labels = verdict.tests
    with transaction.atomic():
        check = DriftCheck.objects.create(
            project=project,
            model_version=version,
            window_start=since,
            window_end=now,
            n_recent=count,
            n_reference=len(reference.image_ids),
            embedding_statistic=embedding.statistic,
            embedding_p=embedding.p_value,
            confidence_statistic=confidence.statistic,
            confidence_p=confidence.p_value,
            labels_statistic=labels.statistic,
            labels_p=labels.p_value,
            false_alarm_rate=verdict.rate,
            rejected=[t.name for t, r in zip(verdict.tests, verdict.rejected, strict=True) if r],
            alarm=verdict.alarm,
            reason=verdict_reason(verdict),
        )
        drift_verdict_announce(check)
    return check


def drift_verdict_announce(check: DriftCheck) -> None:
    """What follows a check (the one place its verdict is announced): the project's webhooks
    hear ``drift.alarm`` when checks turn to alarming, not again while they stay so (the
    hourly checks of one episode overlap: one episode, one delivery); the log says each
    alarm on commit."""
    data = selectors.check_data(check)
    webhook_level_set(
        project_id=check.project_id,
        event=DRIFT_ALARM,
        above=check.alarm,
        payload={
            "model_version_id": check.model_version_id,
            "version": check.model_version.version if check.model_version else None,
            "check_id": check.pk,
            "tests": data["tests"],
            "window": {"start": data["window_start"], "end": data["window_end"]},
        },
    )
    if check.alarm:
        transaction.on_commit(
            lambda: logger.warning(
                "Drift alarm for project %s, model version %s (check %s): %s",
                check.project_id,
                check.model_version_id,
                check.pk,
                check.reason,
            )
        )
