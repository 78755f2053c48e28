"""What follows a change, written once: the writes whose effects reach up the layers.

A domain layer never imports the layers above it (docs/architecture.md), so a write in a
lower layer cannot start the work that depends on it higher up. The writes that have such
follow-ups are called through this module, which may import every layer: each function
here makes the write through its layer's service, then enqueues what follows on commit.
The chains, in the order they run:

    labels changed: every writer of labels, in its own layer: a label given, changed or
    taken back (``annotations.submit``, ``annotations.services``), a final label written
    (``agreement.final_writes``: decisions, gold, bulk actions, imports, machine labels)
      -> ``labels_changed`` (``annotations.changes``, which those writers call themselves):
         one agreement refresh scheduled for a burst of changes
         -> ``agreement_refresh`` (task): the final labels refreshed
            -> near-duplicates whose final labels differ sent to review
            -> a retraining started once ``retrain_after`` new final labels came in
            -> the agreement report and the review queue cached for the pages
            -> webhooks told when the review queue grew past its alert size

    images added: an upload (``images_ingest``), an import (``images_import``), a step
    of a registered bucket's or folder's scan (``reference_scan``, task)
      -> ``image_added``: its previews and model inputs made (``image_prepare``, task;
         an upload sends ``PREPARE_BATCH`` images to an ``images_prepare`` task)
         -> its perceptual hash, and its near-duplicate group joined
      -> ``images_added``: the current model pre-labels the new images (its pass then
         reorders the queue by uncertainty: ``labeler.predictions.prelabel``); for a
         scan, once its last step is done

    labels imported (``images_import``)
      -> one agreement refresh after the whole import, not the debounced one
      -> one more once the import settled (``LABELER_IMPORT_SETTLE_SECONDS`` without a
         new file): automatic retraining waits for it

    a project's setting changed (``project_update``)
      -> what its layer declared to follow (``on_change`` in ``<layer>/project_settings.py``;
         ``manage.py settings_reference`` lists them): a new overlap, overlap mode or adaptive
         maximum sets every image's completeness again; a new near-duplicate distance
         computes its groups again (``duplicates_regroup``, task)

    a server with no broker started (``background_started``, first on its task thread;
    with a broker, beat sends the same)
      -> the training runs it had queued sent again (``training_runs_resume``)
      -> images hashed by an older version of the near-duplicate hashing hashed again,
         a batch at a time, then their projects regrouped (``hashes_upgrade``)

Follow-ups that stay within one layer are enqueued by that layer (a promotion's pre-label
pass, a training run's task, an export's file); every task's name is in
``labeler.task_names``.

With the cache or the broker down, a refresh that cannot be scheduled marks the project
``agreement_refresh_due`` instead, and ``agreement_refresh_overdue`` (run by beat)
refreshes it once they are back. Readers never wait for a refresh:
``final_labels_fresh`` refreshes at once when labels changed since the last one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from labeler import jobs
from labeler.agreement.duplicate_labels import duplicate_reviews_request
from labeler.agreement.final_labels import final_labels_refresh
from labeler.agreement.review import review_candidates
from labeler.agreement.review_size import review_queue_size_check
from labeler.agreement.selectors import agreement_report
from labeler.annotations.changes import MARGIN_SECONDS, labels_changed
from labeler.images import services as image_services
from labeler.images.deletion import project_images_delete
from labeler.images.duplicates.groups import image_duplicates_link
from labeler.images.duplicates.hash_upgrade import hashes_upgrade
from labeler.images.face_regions import image_faces_due
from labeler.images.pixels.model_inputs import input_cache
from labeler.imports.applying.apply import plan_apply
from labeler.imports.applying.summary import ImportResult, ImportSummary
from labeler.imports.planning.plan import ImportPlan
from labeler.predictions.runs import training_refresh_if_due, training_runs_resume
from labeler.predictions.selectors import current_model, model_input_specs
from labeler.projects import services as project_services
from labeler.projects import settings_registry
from labeler.projects.models import Project
from labeler.references import services as reference_services
from labeler.references.models import ReferenceStatus
from labeler.serving import services as serving_services
from labeler.task_names import Task

logger = logging.getLogger(__name__)

# The head of the first chain, called by every writer of labels itself (annotations
# services, the one writer of final labels); named here with the chain it starts.
__all__ = ["labels_changed"]


# Labels changed -> final labels -> retraining, reports.


def agreement_refresh(*, project: Project) -> None:
    """Bring the project's final labels, agreement report and review queue up to date.

    Run in the background after labels change (``labels_changed``), so the pages that
    read these find them ready; retrains the model when enough new final labels came in.
    Each step after the final labels runs even if one before it failed (each in its own
    savepoint, logged); the first failure is raised at the end, so the refresh still
    counts as failed and is tried again.
    """
    final_labels_refresh(project=project)
    failures: list[Exception] = []
    for step in (
        partial(duplicate_reviews_request, project=project),
        partial(training_refresh_if_due, project=project),
        partial(agreement_report, project),
        partial(review_candidates, project),
        partial(review_queue_size_check, project=project),
    ):
        try:
            with transaction.atomic():
                step()
        except Exception as exc:  # the others still run; raised below
            logger.exception("Refresh of project %s: %s failed", project.pk, step.func.__name__)
            failures.append(exc)
    if failures:
        raise failures[0]


def agreement_refresh_overdue() -> int:
    """Refresh every project whose refresh could not be scheduled; returns how many were.

    Each project leaves the due list as its refresh starts and goes back on it if the
    refresh fails, so one failure neither stops the others nor is forgotten.
    """
    refreshed = 0
    for project_id in project_services.agreement_refresh_due_ids():
        if not project_services.agreement_refresh_due_take(project_id=project_id):
            continue
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            continue
        try:
            agreement_refresh(project=project)
        except Exception:  # logged, and tried again by the next run
            logger.exception("Overdue agreement refresh of project %s failed", project_id)
            project_services.agreement_refresh_due_mark(project_id=project_id)
            continue
        refreshed += 1
    return refreshed


# Images added -> thumbnails and model inputs -> pre-labels.

PREPARE_BATCH = 5  # images an upload sends to each IMAGES_PREPARE task


def images_ingest(
    *, project: Project, files: Iterable[UploadedFile]
) -> list[image_services.IngestResult]:
    """Store the uploaded images (``image_services.images_ingest``), then prepare and
    pre-label the new ones."""
    results = image_services.images_ingest(project=project, files=files)
    created = [r.image_id for r in results if r.status == "created" and r.image_id]
    images_prepare_later(created)
    if created:
        images_added(project=project)
    return results


def images_prepare_later(image_ids: list[int]) -> None:
    """New images are prepared in the background, ``PREPARE_BATCH`` to a task: sending one
    costs about a millisecond (a round trip to the broker), and a few still spread an
    upload or an import over the workers."""
    for at in range(0, len(image_ids), PREPARE_BATCH):
        jobs.enqueue(Task.IMAGES_PREPARE, image_ids[at : at + PREPARE_BATCH])


def images_import(
    *,
    plan: ImportPlan,
    actor: User | None,
    report: Callable[[ImportResult], object] | None = None,
) -> ImportSummary:
    """Apply an import plan (``labeler.imports.applying.apply.plan_apply``), ``actor``
    importing: the new images are prepared once it commits, a few to a task; then they
    are pre-labelled and the final labels refreshed once if labels were written."""
    project = plan.project
    results: list[ImportResult] = []
    created: list[int] = []

    def each(result: ImportResult) -> None:
        if result.status == "created" and result.image_id:
            created.append(result.image_id)
        (report or results.append)(result)

    summary = plan_apply(plan=plan, actor=actor, report=each)
    summary.results = results
    images_prepare_later(created)
    if summary.created:
        images_added(project=project)
    if summary.changed:
        # Straight to the task rather than the debounced schedule: one refresh that runs
        # after the whole import, even where a refresh ran while it was under way.
        jobs.enqueue(Task.AGREEMENT_REFRESH, project.pk)
        # Retraining waits until the import settles (more batches of it may come): one
        # more refresh once it has, which starts the run if one is due.
        settle = settings.LABELER_IMPORT_SETTLE_SECONDS + MARGIN_SECONDS
        jobs.enqueue_in(settle, Task.AGREEMENT_REFRESH, project.pk)
    return summary


def image_added(*, image_id: int) -> None:
    """A stored image is prepared in the background (``image_prepare``, task)."""
    jobs.enqueue(Task.IMAGE_PREPARE, image_id)


def image_prepare(*, image_id: int) -> None:
    """Prepare a stored image: its previews and its model inputs at the sizes the project's
    models take (``image_services.image_prepare``; the sizes are the predictions layer's,
    read here and handed down as data), then put it in the group of its near-duplicates
    (hashed from the thumbnail's pixels)."""
    project = Project.objects.filter(images__pk=image_id).first()
    if project is None:
        return  # deleted meanwhile
    # The sizes cost queries (a sample of the project's images for an "auto" model): only
    # where the inputs are kept at all.
    specs = model_input_specs(project) if input_cache() is not None else set()
    image_services.image_prepare(image_id=image_id, input_specs=specs)
    image_duplicates_link(image_id=image_id)
    image_faces_due(image_id=image_id)


def reference_scan(*, reference_id: int) -> None:
    """One step of a registered bucket's or folder's scan
    (``reference_services.reference_scan_step``): each new image is prepared as it is
    added, the next step is queued, and after the last the new images are pre-labelled."""
    step = reference_services.reference_scan_step(
        reference_id=reference_id, on_created=lambda image_id: image_added(image_id=image_id)
    )
    if step.more:
        jobs.enqueue(Task.REFERENCE_SCAN, reference_id)
        return
    reference = step.reference
    if reference is not None and reference.status == ReferenceStatus.DONE and reference.created:
        images_added(project=reference.project)


def images_added(*, project: Project) -> None:
    """New images get the current model's predictions (and a queue rank) in the background."""
    model = current_model(project)
    if model is not None:
        jobs.enqueue(Task.PRELABEL_DISPATCH, model.pk)


# Project settings.


def project_delete(*, project: Project) -> None:
    """Delete a project: its images the one way images are deleted
    (``deletion.project_images_delete``: rows, every stored file, model inputs), then the
    project with the rest of its rows and its exports' files
    (``project_services.project_delete``), in one transaction; then the uploads its
    prediction jobs kept (serving, a layer above projects, names them), once that commits
    (an outer transaction, the admin's, may still roll it back). The project's row is
    locked first, then its images', in the one lock order (docs/architecture.md)."""
    uploads = serving_services.prediction_job_uploads(project=project)
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        deleted = project_images_delete(project=project)
        project_services.project_delete(project=project, images=deleted.images)
        transaction.on_commit(partial(serving_services.uploads_delete, names=uploads))


@transaction.atomic
def project_update(*, project: Project, **changes: Any) -> Project:
    """Change a project's settings (``project_services.project_update``), then run what
    follows each setting that changed, as its layer declared it (``on_change`` in its
    ``project_settings``): a new overlap sets every image's completeness again in the same
    transaction; a new near-duplicate distance regroups the images in the background."""
    watched = settings_registry.watched_names()
    # Locked as the update locks it, so no other change comes between.
    before = Project.objects.select_for_update().values(*watched).get(pk=project.pk)
    project = project_services.project_update(project=project, **changes)
    for follow_up in settings_registry.follow_ups_due(before, project):
        follow_up(project)
    return project


# The server's own background (no broker, no beat).


def background_started() -> None:
    """What a server running its tasks itself does first on its task thread, where beat
    would otherwise: the training runs queued when it stopped are sent again, and images
    hashed by an older version of the hashing are hashed again (an upgrade is a restart)."""
    training_runs_resume()
    hashes_upgrade()
