"""Writes of the serving layer: the served predictions' log, its retention, prediction jobs.

``served_predictions_record`` is the one writer of ``ServedPrediction``: the worker that
ran the model calls it with the model's outputs, and it answers with what the API sends;
the rows are written after the answer, by ``served_log``'s writer thread.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from labeler import jobs
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Label, Project
from labeler.projects.selectors import manages_now
from labeler.serving import served_log
from labeler.serving.answers import prediction_answer
from labeler.serving.models import JobStatus, PredictionJob, ServedPrediction
from labeler.serving.tokens import predict_token_ended
from labeler.task_names import Task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOutputs:
    """What the model gave for the images it decoded, in their order."""

    label_ids: list[int]
    multi_label: bool
    thresholds: list[float] | None
    probabilities: np.ndarray  # (n, labels)
    embeddings: np.ndarray  # (n, dimensions)
    durations_ms: list[float]


def served_predictions_record(
    *,
    version: ModelVersion,
    inputs: Sequence[dict[str, Any]],
    outputs: ModelOutputs,
    caller_id: int | None,
    token_id: int | None,
    wait: bool = False,
    names: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Log one served prediction a decoded input and return each answer, its log row's id
    (``served_id``) among it. The rows are queued for ``served_log``'s writer; with
    ``wait``, or inside a caller's transaction (they commit or roll back with it), they are
    written before this returns, in one statement.

    ``inputs``: each image's ``name``, ``sha256`` and ``image_id`` (None for an upload),
    in the order of ``outputs``' rows; ``names``: the labels' names by id, when the caller
    has them. The embedding is kept as float16 little-endian bytes.
    """
    if names is None:
        names = dict(Label.objects.filter(pk__in=outputs.label_ids).values_list("pk", "name"))
    ids = served_log.ids_reserve(len(inputs))
    answered_at = timezone.now()
    all_probabilities = outputs.probabilities.tolist()
    answers = [
        prediction_answer(
            probabilities,
            label_ids=outputs.label_ids,
            names=names,
            multi_label=outputs.multi_label,
            thresholds=outputs.thresholds,
        )
        for probabilities in all_probabilities
    ]
    sha256s = [item["sha256"] for item in inputs]

    def rows() -> list[ServedPrediction]:
        embeddings = np.ascontiguousarray(outputs.embeddings, dtype="<f2")  # one conversion
        made = []
        for row, probabilities in enumerate(all_probabilities):
            best = max(range(len(probabilities)), key=lambda i: probabilities[i])
            made.append(
                ServedPrediction(
                    id=ids[row],
                    project_id=version.project_id,
                    model_version_id=version.pk,
                    image_sha256=sha256s[row],
                    top_label_id=outputs.label_ids[best],
                    probability=probabilities[best],
                    probabilities={
                        str(k): p for k, p in zip(outputs.label_ids, probabilities, strict=True)
                    },
                    embedding=embeddings[row].tobytes(),
                    caller_id=caller_id,
                    token_id=token_id,
                    duration_ms=outputs.durations_ms[row],
                    created_at=answered_at,
                )
            )
        return made

    if wait or transaction.get_connection().in_atomic_block:
        ServedPrediction.objects.bulk_create(rows())
    else:
        served_log.write(len(inputs), rows)
    return [
        {"name": item["name"], "sha256": item["sha256"], "image_id": item.get("image_id"),
         **answer, "duration_ms": round(duration, 3), "served_id": served_id}
        for item, answer, duration, served_id in zip(
            inputs, answers, outputs.durations_ms, ids, strict=True
        )
    ]  # fmt: skip


def served_predictions_purge(*, now: Any = None) -> int:
    """Delete served predictions older than their project's ``served_log_days``; returns
    how many (one statement for each distinct setting)."""
    now = now or timezone.now()
    deleted = 0
    kept_days = Project.objects.values_list("served_log_days", flat=True).distinct()
    for days in sorted(set(kept_days)):
        old = ServedPrediction.objects.filter(
            project__served_log_days=days, created_at__lt=now - timedelta(days=days)
        )
        deleted += old._raw_delete(old.db)  # no signals or cascades hang from these rows
    return deleted


@dataclass(frozen=True)
class ServedErased:
    """What ``served_of_contents_delete`` removed."""

    predictions: int
    jobs: int
    uploads: list[str]


def served_of_contents_delete(*, project: Project, sha256s: Collection[str]) -> ServedErased:
    """Delete what serving kept of these contents in the project: the served predictions'
    log rows, and every prediction job that took one of them (rows now, in the caller's
    transaction; the jobs' kept uploads once it commits)."""
    wanted = set(sha256s)
    logged = ServedPrediction.objects.filter(project=project, image_sha256__in=wanted)
    predictions = logged._raw_delete(logged.db)  # no signals or cascades hang from these rows
    doomed, uploads = [], []
    # A project's jobs are few (kept LABELER_PREDICT_JOB_KEEP_HOURS): read in Python, where
    # JSON containment differs between the databases.
    for job in PredictionJob.objects.filter(project=project).only("pk", "inputs", "results"):
        took = {item.get("sha256") for item in [*job.inputs, *job.results]}
        if took & wanted:
            doomed.append(job.pk)
            uploads += [
                item["file"] for item in job.inputs if item.get("uploaded") and item.get("file")
            ]
    PredictionJob.objects.filter(pk__in=doomed).delete()
    if uploads:
        kept = [{"uploaded": True, "file": name} for name in uploads]
        transaction.on_commit(lambda: _inputs_delete(kept))
    return ServedErased(predictions=predictions, jobs=len(doomed), uploads=uploads)


def prediction_job_uploads(*, project: Project) -> list[str]:
    """The stored uploads the project's prediction jobs keep (to delete with the project)."""
    return [
        item["file"]
        for inputs in PredictionJob.objects.filter(project=project).values_list("inputs", flat=True)
        for item in inputs
        if item.get("uploaded") and item.get("file")
    ]


def uploads_delete(*, names: Sequence[str]) -> None:
    """Delete stored uploads of prediction jobs whose rows are gone."""
    _inputs_delete([{"uploaded": True, "file": name} for name in names])


@transaction.atomic
def prediction_job_create(
    *,
    project: Project,
    version: ModelVersion,
    inputs: Sequence[dict[str, Any]],
    uploads: dict[int, bytes],
    caller_id: int | None,
    token_id: int | None,
) -> PredictionJob:
    """Keep a large request's uploaded images in storage, then queue the job on commit.

    ``uploads``: the bytes of the inputs that were uploaded, by their position.
    """
    job = PredictionJob.objects.create(
        project=project, model_version=version, caller_id=caller_id, token_id=token_id
    )
    kept = []
    try:
        for position, item in enumerate(inputs):
            entry = dict(item)
            if position in uploads:
                name = f"serving/jobs/{job.pk}/{position}-{item['sha256'][:16]}"
                entry["file"] = default_storage.save(name, ContentFile(uploads[position]))
                entry["uploaded"] = True
            kept.append(entry)
    except BaseException:
        _inputs_delete(kept)
        raise
    job.inputs = kept
    job.save(update_fields=["inputs"])
    jobs.enqueue(Task.ML_SERVE_JOB, job.pk)
    return job


def prediction_job_start(*, job_id: int) -> PredictionJob | None:
    """Mark a queued job running and return it; None if it is gone or not queued, or if
    the token that asked for it no longer works (revoked while the job waited, or its
    issuer gone): such a job fails unrun, saying why, and nothing is served for it."""
    claimed = PredictionJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING
    )
    if not claimed:
        return None
    job = (
        PredictionJob.objects.select_related(
            "project", "caller", "token__project", "token__created_by"
        )
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        return None
    if job.token is not None:
        ended = predict_token_ended(job.token)
        if ended:
            prediction_job_fail(job=job, message=f"Not run: its prediction token ended. {ended}")
            return None
    elif job.caller is not None and not (
        job.caller.is_active and manages_now(user=job.caller, project=job.project)
    ):
        prediction_job_fail(
            job=job, message="Not run: whoever asked for it no longer manages the project."
        )
        return None
    return job


def prediction_job_finish(
    *, job: PredictionJob, results: list[dict[str, Any]], duration_ms: float
) -> None:
    """Keep the job's results and delete its uploaded inputs."""
    PredictionJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        results=results,
        duration_ms=duration_ms,
        finished_at=timezone.now(),
    )
    _inputs_delete(job.inputs)


def prediction_job_fail(*, job: PredictionJob, message: str) -> None:
    """Record why the job failed and delete its uploaded inputs."""
    PredictionJob.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, message=message[:2000], finished_at=timezone.now()
    )
    _inputs_delete(job.inputs)


# A job queued or running this long was lost with its worker (a batch of 1,000 images takes
# minutes): it is failed, so its caller stops polling and sends the request again.
JOB_STALE = timedelta(minutes=30)
JOB_LOST = "Its worker stopped before it finished: send the request again."
# Uploads are stored inside the request's transaction: a folder with no job after this long
# belongs to a request that was rolled back (younger ones may belong to one still running).
ORPHAN_AGE = timedelta(hours=1)
JOBS_FOLDER = "serving/jobs"


def prediction_jobs_purge(*, now: Any = None) -> int:
    """Delete jobs older than ``LABELER_PREDICT_JOB_KEEP_HOURS``, with any inputs left; fail
    the jobs lost with their worker; delete uploads no job holds. Returns the jobs deleted."""
    now = now or timezone.now()
    old = PredictionJob.objects.filter(
        created_at__lt=now - timedelta(hours=settings.LABELER_PREDICT_JOB_KEEP_HOURS)
    )
    for inputs in old.values_list("inputs", flat=True):
        _inputs_delete(inputs)
    deleted = old.delete()[0]
    lost = PredictionJob.objects.filter(
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING], created_at__lt=now - JOB_STALE
    )
    for job in lost:
        prediction_job_fail(job=job, message=JOB_LOST)
    _orphan_uploads_delete(now)
    return deleted


def _orphan_uploads_delete(now: Any) -> None:
    """Delete the stored uploads of jobs that do not exist (a request rolled back)."""
    try:
        folders, _ = default_storage.listdir(JOBS_FOLDER)
    except (FileNotFoundError, NotADirectoryError):
        return
    ids = {int(name) for name in folders if name.isdigit()}
    alive = set(PredictionJob.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for job_id in sorted(ids - alive):
        folder = f"{JOBS_FOLDER}/{job_id}"
        names = [f"{folder}/{name}" for name in default_storage.listdir(folder)[1]]
        if all(default_storage.get_modified_time(name) < now - ORPHAN_AGE for name in names):
            _inputs_delete([{"uploaded": True, "file": name} for name in names])


def _inputs_delete(inputs: Sequence[dict[str, Any]]) -> None:
    for item in inputs:
        if item.get("uploaded") and item.get("file"):
            try:
                default_storage.delete(item["file"])
            except OSError:  # left for nobody: logged, never a reason to fail the job
                logger.warning("Could not delete a prediction job's input %s", item["file"])
