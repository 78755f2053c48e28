"""Every background task's name, in one place.

The domain enqueues work by these names (``labeler.jobs``); ``worker.tasks`` registers
a task under each, and the settings route and schedule them by the same names. A name is
part of what is on the queue: renaming one strands the messages sent under the old name.
"""

from typing import Final


class Task:
    """Celery tasks' registered names (plain strings, as Celery and the outbox keep them)."""

    # The audit trail's retention
    AUDIT_PURGE: Final = "worker.tasks.audit_purge"
    # Images
    IMAGE_PREPARE: Final = "worker.tasks.image_prepare"
    IMAGES_PREPARE: Final = "worker.tasks.images_prepare"  # several images, one after another
    # IMAGE_PREPARE's name until it had one name everywhere: still run, for the messages
    # sent under it before (on the queue, in the outbox); nothing sends it any more.
    IMAGE_PREPARE_FORMER: Final = "worker.tasks.image_make_thumbnail"
    STORAGE_DELETE_FILES: Final = "worker.tasks.storage_delete_files"
    # The model inputs the workers keep of images erased or of a deleted project.
    MODEL_INPUTS_DELETE: Final = "worker.tasks.model_inputs_delete"
    REFERENCE_SCAN: Final = "worker.tasks.reference_scan"
    DUPLICATES_REGROUP: Final = "worker.tasks.duplicates_regroup"
    # Images hashed by an older version of the hashing: the projects found (beat), and
    # one batch of a project hashed again (a chain of them, then its regrouping).
    HASHES_UPGRADE: Final = "worker.tasks.hashes_upgrade"
    PROJECT_HASHES_UPGRADE: Final = "worker.tasks.project_hashes_upgrade"
    # Faces found on one image (the blur_faces setting), and images' copies made again
    # after their faces changed.
    FACES_DETECT: Final = "worker.tasks.faces_detect"
    IMAGES_DERIVE_AGAIN: Final = "worker.tasks.images_derive_again"
    PROJECT_FACES_REFRESH: Final = "worker.tasks.project_faces_refresh"
    # Converted copies of HEIC, AVIF and GIF images prepared before they were kept.
    IMAGES_CONVERTED_BACKFILL: Final = "worker.tasks.images_converted_backfill"
    # Annotations
    ASSIGNMENTS_PURGE_EXPIRED: Final = "worker.tasks.assignments_purge_expired"
    # Agreement
    AGREEMENT_REFRESH: Final = "worker.tasks.agreement_refresh"
    AGREEMENT_REFRESH_OVERDUE: Final = "worker.tasks.agreement_refresh_overdue"
    # Predictions (the ml_* tasks run on the "gpu" queue)
    ML_TRAIN: Final = "worker.tasks.ml_train"
    ML_PREDICT: Final = "worker.tasks.ml_predict"
    PRELABEL_DISPATCH: Final = "worker.tasks.prelabel_dispatch"
    # A model version packaged for download: TorchScript, ONNX and its card.
    ML_PACKAGE: Final = "worker.tasks.ml_package"
    QUEUE_ORDER_REFRESH: Final = "worker.tasks.queue_order_refresh"
    TRAINING_RUNS_REAP: Final = "worker.tasks.training_runs_reap"
    TRAINING_RUNS_RESEND: Final = "worker.tasks.training_runs_resend"
    # Monitoring: the drift checks due (beat), one project's check, and a version's
    # reference (its test images' embeddings: torch, so an ml_* task on the "gpu" queue)
    DRIFT_CHECKS_DUE: Final = "worker.tasks.drift_checks_due"
    DRIFT_CHECK: Final = "worker.tasks.drift_check"
    ML_DRIFT_REFERENCE: Final = "worker.tasks.ml_drift_reference"
    # A heat map of why a model version chose a label for an image, kept in storage.
    EXPLANATION_RENDER: Final = "worker.tasks.explanation_render"
    # Serving: a prediction request answered at once (its caller waits on the result), a
    # large one run as a job, and the served predictions' log kept to each project's days.
    ML_SERVE_PREDICT: Final = "worker.tasks.ml_serve_predict"
    ML_SERVE_JOB: Final = "worker.tasks.ml_serve_job"
    SERVED_PREDICTIONS_PURGE: Final = "worker.tasks.served_predictions_purge"
    # Exports
    EXPORT_RUN: Final = "worker.tasks.export_run"  # archives, and large text exports
    EXPORT_RUN_SMALL: Final = "worker.tasks.export_run_small"  # never waits behind those
    EXPORTS_PURGE: Final = "worker.tasks.exports_purge"
    # Bulk actions
    BULK_RUN: Final = "worker.tasks.bulk_run"
    # Webhooks: one delivery's attempt (it sends itself again while it is to be retried)
    WEBHOOK_DELIVER: Final = "worker.tasks.webhook_deliver"
    # Plumbing
    IDEMPOTENCY_PURGE_EXPIRED: Final = "worker.tasks.idempotency_purge_expired"
    IMPORT_STASHES_PURGE: Final = "worker.tasks.import_stashes_purge"
    OUTBOX_SEND: Final = "worker.tasks.outbox_send"
