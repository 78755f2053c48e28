"""Celery tasks: each loads its objects by id and calls one service."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.utils import timezone

from labeler import flows, jobs
from labeler.annotations import services as annotation_services
from labeler.audit import services as audit_services
from labeler.bulk import services as bulk_services
from labeler.errors import DomainError
from labeler.exports import retention
from labeler.exports import services as export_services
from labeler.idempotency import services as idempotency_services
from labeler.images import face_regions, file_deletes
from labeler.images import services as image_services
from labeler.images.catalogue import backfill
from labeler.images.duplicates import hash_upgrade
from labeler.images.duplicates.groups import project_duplicates_regroup
from labeler.imports import stash
from labeler.monitoring import selectors as monitoring_selectors
from labeler.monitoring import services as monitoring_services
from labeler.predictions import prelabel, runs
from labeler.projects.models import Project
from labeler.serving import served_log
from labeler.serving import services as serving_services
from labeler.task_names import Task
from labeler.webhooks import deliveries as webhook_deliveries

logger = logging.getLogger(__name__)


@worker_shutdown.connect
@worker_process_shutdown.connect
def served_log_written(**_: Any) -> None:
    """A stopping worker writes out the served predictions it answered (a pool's child
    ends without running ``atexit``)."""
    served_log.flush()


@shared_task(name=Task.IMAGE_PREPARE, autoretry_for=(OSError,), max_retries=3)
def image_prepare(image_id: int) -> None:
    """Prepare one image: previews, model inputs, near-duplicate group (no-op if it is gone)."""
    flows.image_prepare(image_id=image_id)


@shared_task(name=Task.IMAGE_PREPARE_FORMER, autoretry_for=(OSError,), max_retries=3)
def image_prepare_former(image_id: int) -> None:
    """``image_prepare`` for messages sent under its former name (``Task``)."""
    flows.image_prepare(image_id=image_id)


@shared_task(name=Task.IMAGES_PREPARE, autoretry_for=(OSError,), max_retries=3)
def images_prepare(image_ids: list[int]) -> None:
    """Prepare each of these images in turn (``image_prepare``). One image's failure never
    stops the others'; the first is raised at the end, so an OSError retries them all
    (those already done are skipped)."""
    failed: Exception | None = None
    for image_id in image_ids:
        try:
            flows.image_prepare(image_id=image_id)
        except Exception as exc:
            logger.exception("Preparing image %s failed", image_id)
            failed = failed or exc
    if failed is not None:
        raise failed


@shared_task(name=Task.FACES_DETECT, autoretry_for=(OSError,), max_retries=3)
def faces_detect(image_id: int) -> str:
    """Find one image's faces and store them; its copies are made again after."""
    # OpenCV: loaded by this task only, not by the web process
    from labeler.images.pixels import face_finding

    state = face_regions.image_faces_detect(image_id=image_id, finder=face_finding.faces_find)
    if state == "deriving":
        images_derive_again([image_id])
    return state


@shared_task(name=Task.IMAGES_DERIVE_AGAIN, autoretry_for=(OSError,), max_retries=3)
def images_derive_again(image_ids: list[int]) -> None:
    """These images' thumbnails and display copies made anew (their faces changed), then
    served again."""
    for image_id in image_ids:
        image_services.image_prepare(image_id=image_id, input_specs=(), again=True)
        face_regions.faces_copies_made(image_id=image_id)


@shared_task(name=Task.PROJECT_FACES_REFRESH)
def project_faces_refresh(project_id: int) -> int:
    """After a project's blur_faces changed: its images' faces found, or copies made."""
    return face_regions.project_faces_refresh(project_id=project_id)


@shared_task(name=Task.STORAGE_DELETE_FILES)
def storage_delete_files(names: list[str]) -> None:
    """Delete stored files whose rows are gone."""
    file_deletes.storage_delete_files(names=names)


@shared_task(name=Task.MODEL_INPUTS_DELETE)
def model_inputs_delete(sha256s: list[str]) -> int:
    """Delete the model inputs kept of these contents (erased images, a deleted project)."""
    return file_deletes.model_inputs_delete(sha256s=sha256s)


@shared_task(name=Task.IMAGES_CONVERTED_BACKFILL)
def images_converted_backfill() -> int:
    """Make the next few converted copies of images prepared before they were kept
    (``LABELER_CONVERTED_BACKFILL_BATCH`` a run); returns how many were made."""
    limit = settings.LABELER_CONVERTED_BACKFILL_BATCH
    return backfill.converted_backfill_step(limit=limit).filled if limit > 0 else 0


@shared_task(name=Task.REFERENCE_SCAN, acks_late=True, reject_on_worker_lost=True)
def reference_scan(reference_id: int) -> None:
    """Scan the next files of a registered bucket or folder; a finished scan does nothing."""
    flows.reference_scan(reference_id=reference_id)


@shared_task(name=Task.DUPLICATES_REGROUP)
def duplicates_regroup(project_id: int) -> int:
    """Compute a project's near-duplicate groups again at its distance, first hashing again
    its images hashed by an older version of the hashing; returns how many images changed
    group (0 if the project is gone)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    hash_upgrade.images_hash_backfill(images=project.images.all())
    return project_duplicates_regroup(project=project).changed


@shared_task(name=Task.HASHES_UPGRADE)
def hashes_upgrade() -> int:
    """Start hashing again, project by project, the images hashed by an older version of
    the hashing; returns how many projects' chains were started."""
    return hash_upgrade.hashes_upgrade()


@shared_task(name=Task.PROJECT_HASHES_UPGRADE, acks_late=True, reject_on_worker_lost=True)
def project_hashes_upgrade(project_id: int, after_id: int, hashed: int) -> int:
    """Hash again one batch of a project's images of an older version (the next batch
    follows; after the last, the project is regrouped); returns how many were hashed."""
    step = hash_upgrade.project_hashes_upgrade(
        project_id=project_id, after_id=after_id, hashed=hashed
    )
    return step.hashed


@shared_task(name=Task.ASSIGNMENTS_PURGE_EXPIRED)
def assignments_purge_expired() -> int:
    """Drop leases that expired; returns how many."""
    return annotation_services.assignments_purge_expired()


@shared_task(name=Task.IDEMPOTENCY_PURGE_EXPIRED)
def idempotency_purge_expired() -> int:
    """Drop Idempotency-Keys past their expiry; returns how many."""
    return idempotency_services.idempotency_purge_expired()


@shared_task(name=Task.IMPORT_STASHES_PURGE)
def import_stashes_purge() -> int:
    """Delete the archives the import page kept for a second step that never came."""
    return stash.stash_purge()


@shared_task(name=Task.AGREEMENT_REFRESH)
def agreement_refresh(project_id: int) -> None:
    """Refresh a project's final labels, agreement report and review queue (no-op if it is gone)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        flows.agreement_refresh(project=project)


@shared_task(name=Task.AGREEMENT_REFRESH_OVERDUE)
def agreement_refresh_overdue() -> int:
    """Refresh the projects whose refresh could not be scheduled; returns how many."""
    return flows.agreement_refresh_overdue()


@shared_task(name=Task.TRAINING_RUNS_RESEND)
def training_runs_resend() -> int:
    """Send again the training runs queued for a while (their send may have failed)."""
    queued_before = timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_RESEND_SECONDS)
    return runs.training_runs_resume(queued_before=queued_before)


@shared_task(name=Task.OUTBOX_SEND)
def outbox_send() -> int:
    """Send again the tasks whose sending failed while the broker was down; returns how many."""
    return jobs.outbox_send()


@shared_task(name=Task.EXPORT_RUN, acks_late=True, reject_on_worker_lost=True)
def export_run(export_id: int) -> None:
    """Write an export's file; a redelivery of a finished export does nothing."""
    export_services.export_run(export_id=export_id)


@shared_task(name=Task.EXPORT_RUN_SMALL, acks_late=True, reject_on_worker_lost=True)
def export_run_small(export_id: int) -> None:
    """``export_run`` for a small export, in a lane of its own (``labeler.exports.lanes``)."""
    export_services.export_run(export_id=export_id)


@shared_task(name=Task.EXPORTS_PURGE)
def exports_purge() -> int:
    """Delete the exports past their project's days (or the server's) or
    LABELER_EXPORT_KEEP_LAST; returns how many."""
    return retention.exports_purge()


@shared_task(name=Task.AUDIT_PURGE)
def audit_purge() -> int:
    """Delete the audit entries past LABELER_AUDIT_KEEP_DAYS; returns how many."""
    return audit_services.audit_purge()


@shared_task(name=Task.BULK_RUN, acks_late=True, reject_on_worker_lost=True)
def bulk_run(action_id: int) -> None:
    """Run a queued bulk action; a redelivery of one already claimed does nothing."""
    bulk_services.bulk_action_run(action_id=action_id)


@shared_task(name=Task.WEBHOOK_DELIVER, bind=True, max_retries=None, acks_late=True)
def webhook_deliver(self: Any, delivery_id: int) -> None:
    """Make one attempt at a webhook's delivery; while it is to be tried again, retry this
    task after the delay the attempt chose (the delivery's row counts the attempts)."""
    delay = webhook_deliveries.delivery_attempt(delivery_id=delivery_id)
    if delay is None:
        return
    if self.request.is_eager:
        # No broker: Celery would retry at once; the in-process runner waits the delay out.
        jobs.enqueue_in(delay, Task.WEBHOOK_DELIVER, delivery_id)
        return
    raise self.retry(countdown=delay)


# The ml_* tasks run on the "gpu" queue (CELERY_TASK_ROUTES). They import worker.ml inside
# the task body because it imports torch, which the web process must never load.


@shared_task(name=Task.ML_TRAIN, acks_late=True, reject_on_worker_lost=True)
def ml_train(run_id: int) -> None:
    """Train a queued run; a redelivery of a run already claimed or ended does nothing."""
    if not runs.training_run_claimable(run_id=run_id):
        return  # decided before torch loads, while a live run's heartbeat is still fresh
    from worker import model_jobs as ml_jobs  # torch: only in the worker (see above)

    ml_jobs.train(run_id)


@shared_task(name=Task.PRELABEL_DISPATCH)
def prelabel_dispatch(model_version_id: int) -> int:
    """Plan a pre-label pass of the version and send its chunks; returns how many chunks."""
    chunks = prelabel.prelabel_plan(model_version_id=model_version_id)
    for image_ids in chunks:
        jobs.enqueue(Task.ML_PREDICT, model_version_id, image_ids)
    return len(chunks)


@shared_task(name=Task.ML_PREDICT, acks_late=True, reject_on_worker_lost=True)
def ml_predict(model_version_id: int, image_ids: list[int]) -> int:
    """Predict a chunk of images with the version (an idempotent upsert)."""
    from worker import model_jobs as ml_jobs  # torch: only in the worker (see above)

    return ml_jobs.predict(model_version_id, image_ids)


@shared_task(name=Task.QUEUE_ORDER_REFRESH)
def queue_order_refresh(project_id: int) -> int:
    """Order the project's queue by the current model's uncertainty (no-op if it is gone)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return prelabel.queue_order_refresh(project=project)


@shared_task(name=Task.TRAINING_RUNS_REAP)
def training_runs_reap() -> int:
    """Fail running trainings whose worker stopped sending heartbeats; returns how many."""
    return runs.training_runs_reap()


@shared_task(name=Task.DRIFT_CHECKS_DUE)
def drift_checks_due() -> int:
    """Send a drift check for each project whose window holds enough served predictions."""
    due = monitoring_selectors.projects_due_for_drift()
    for project_id in due:
        jobs.enqueue(Task.DRIFT_CHECK, project_id)
    return len(due)


@shared_task(name=Task.DRIFT_CHECK)
def drift_check(project_id: int) -> int | None:
    """Run one project's drift check; returns the check's id (None: its reference was queued,
    or nothing to check: the reason is logged)."""
    return _drift_check(project_id, queue_reference=True)


def _drift_check(project_id: int, *, queue_reference: bool) -> int | None:
    try:
        check = monitoring_services.drift_check_run(
            project_id=project_id, queue_reference=queue_reference
        )
    except DomainError as exc:
        logger.info("Drift check of project %s skipped: %s", project_id, exc)
        return None
    return None if check is None else check.pk


@shared_task(name=Task.ML_DRIFT_REFERENCE, acks_late=True, reject_on_worker_lost=True)
def ml_drift_reference(model_version_id: int, check_after: bool = False) -> int:
    """Compute a version's drift reference (its test images through the network), then the
    project's drift check if asked; returns how many test images it holds."""
    from worker import drift_reference  # torch: only in the worker (see above)

    held = drift_reference.reference_compute(model_version_id)
    project_id = drift_reference.version_project_id(model_version_id)
    if check_after and project_id is not None:
        _drift_check(project_id, queue_reference=False)
    return held


@shared_task(name=Task.ML_PACKAGE, acks_late=True, reject_on_worker_lost=True)
def ml_package(model_version_id: int) -> None:
    """Package a version for download (TorchScript, ONNX, card); files already there stay."""
    from worker import model_package  # torch: only in the worker (see above)

    model_package.package(model_version_id)


@shared_task(name=Task.EXPLANATION_RENDER, acks_late=True, reject_on_worker_lost=True)
def explanation_render(version_id: int, image_id: int, label_id: int | None) -> str | None:
    """Make and keep a heat map of why the version chose a label for the image."""
    from worker import explain_jobs  # torch: only in the worker (see ml_predict)

    return explain_jobs.explanation_render(version_id, image_id, label_id)


# Serving (labeler.serving): the ml_serve_* tasks run on the "gpu" queue with the others.


@shared_task(name=Task.ML_SERVE_PREDICT, ignore_result=False, acks_late=False)
def ml_serve_predict(request: dict[str, Any]) -> dict[str, Any]:
    """Predict a small request's images with the version's kept model; the caller waits on
    the result (with a broker, through the result backend)."""
    from worker import serving  # torch: only in the worker (see above)

    return serving.serve(request)


@shared_task(name=Task.ML_SERVE_JOB, acks_late=True, reject_on_worker_lost=True)
def ml_serve_job(job_id: int) -> None:
    """Run a large prediction request's job (a redelivery of one already started does nothing)."""
    from worker import serving  # torch: only in the worker (see above)

    serving.serve_job(job_id)


@shared_task(name=Task.SERVED_PREDICTIONS_PURGE)
def served_predictions_purge() -> int:
    """Delete served predictions past their project's days, and expired prediction jobs."""
    return serving_services.served_predictions_purge() + serving_services.prediction_jobs_purge()
