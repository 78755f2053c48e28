"""Celery tasks: each loads its objects by id and calls one service."""

from __future__ import annotations

from celery import shared_task

from labeler.agreement import services as agreement_services
from labeler.annotations import services as annotation_services
from labeler.images import services as image_services
from labeler.projects.models import Project


@shared_task(name="worker.tasks.image_make_thumbnail", autoretry_for=(OSError,), max_retries=3)
def image_make_thumbnail(image_id: int) -> None:
    """Render the thumbnail of one image (no-op if the image is gone)."""
    image_services.image_make_thumbnail(image_id=image_id)


@shared_task(name="worker.tasks.storage_delete_files")
def storage_delete_files(names: list[str]) -> None:
    """Delete stored files whose rows are gone."""
    image_services.storage_delete_files(names=names)


@shared_task(name="worker.tasks.assignments_purge_expired")
def assignments_purge_expired() -> int:
    """Drop leases that expired; returns how many."""
    return annotation_services.assignments_purge_expired()


@shared_task(name="worker.tasks.agreement_refresh")
def agreement_refresh(project_id: int) -> None:
    """Refresh a project's final labels, agreement report and review queue (no-op if it is gone)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        agreement_services.agreement_refresh(project=project)
