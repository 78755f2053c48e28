"""Exports: checked before they start, written by a worker to a temporary file, then stored."""

from __future__ import annotations

import logging
import tempfile

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from labeler import jobs
from labeler.agreement.final_labels import final_labels_current
from labeler.errors import DomainError, ValidationFailed
from labeler.exports.formats import ExportSource, exporter_get
from labeler.exports.formats.archives import hf_labels_check
from labeler.exports.models import Export, ExportStatus
from labeler.exports.options import ExportOptions, export_options_parse
from labeler.exports.selection import export_count
from labeler.images.duplicate_groups import duplicate_groups_settled_check
from labeler.projects.models import Project
from labeler.task_names import Task

logger = logging.getLogger(__name__)


def export_check(*, project: Project, options: ExportOptions) -> int:
    """Check what the options name against the project; returns the images selected.

    Final labels are brought up to date first: an export holds every label given before
    it was asked for (and, written by a worker, before it started). A split keeps each
    near-duplicate group on one side, so it is refused (Conflict, with how many) while
    the worker is still hashing images of the project.
    """
    if options.split:
        duplicate_groups_settled_check(project=project)
    final_labels_current(project=project)
    if options.format == "hf-imagefolder":
        hf_labels_check(project)
    return export_count(project, options)


def export_direct_check(*, project: Project, options: ExportOptions) -> None:
    """Refuse a direct download above LABELER_EXPORT_DIRECT_MAX_IMAGES images."""
    count = export_check(project=project, options=options)
    limit = settings.LABELER_EXPORT_DIRECT_MAX_IMAGES
    if count > limit:
        raise ValidationFailed(
            f"The selection holds {count} images, more than {limit} for a direct download: "
            f"start a background export with POST /api/v1/projects/{project.pk}/exports/.",
            count=count,
            limit=limit,
        )


def export_file_name(project: Project, options: ExportOptions, export_id: int | None) -> str:
    """``<project slug>-<project id>[-<export id>].<extension>``."""
    suffix = f"-{export_id}" if export_id is not None else ""
    extension = exporter_get(options.format).extension
    return f"{slugify(project.name) or 'project'}-{project.pk}{suffix}.{extension}"


@transaction.atomic
def export_start(
    *, project: Project, user: User | None, options: ExportOptions, base_url: str = ""
) -> Export:
    """Record a queued export and send it to a worker once the transaction commits.

    ``base_url``: this site's address as the request reached it (signed image links).
    """
    total = export_check(project=project, options=options)
    export = Export.objects.create(
        project=project,
        created_by=user,
        format=options.format,
        options=options.as_dict(),
        base_url=base_url,
        total=total,
    )
    jobs.enqueue(Task.EXPORT_RUN, export.pk)
    return export


def export_run(*, export_id: int) -> Export | None:
    """Write a queued (or interrupted) export; a finished or deleted one is left alone.

    The file is written to a temporary file and stored once complete, so an export is
    never marked done with a partial file; any failure marks it failed with its reason.
    """
    export = _claim(export_id)
    if export is None:
        return None
    try:
        _write(export)
    except Exception as exc:
        logger.exception("Export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=_reason(exc), finished_at=timezone.now()
        )
    return Export.objects.filter(pk=export_id).first()


@transaction.atomic
def _claim(export_id: int) -> Export | None:
    export = Export.objects.select_for_update().filter(pk=export_id).first()
    if export is None or export.status in (ExportStatus.DONE, ExportStatus.FAILED):
        return None
    export.status = ExportStatus.RUNNING
    export.started_at = timezone.now()
    export.done = 0
    export.save(update_fields=["status", "started_at", "done"])
    return export


def _write(export: Export) -> None:
    options = export_options_parse(export.options)
    project = export.project
    total = export_check(project=project, options=options)
    Export.objects.filter(pk=export.pk).update(total=total)

    def on_batch(images: int) -> None:
        Export.objects.filter(pk=export.pk).update(done=F("done") + images)

    writer = exporter_get(options.format).write
    with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
        source = ExportSource(
            project,
            options,
            on_batch=on_batch,
            base_url=export.base_url,
            user_id=export.created_by_id,
        )
        for chunk in writer(source):
            spool.write(chunk)
        size = spool.tell()
        spool.seek(0)
        export.file.save(export_file_name(project, options, export.pk), File(spool), save=False)
    _finish(export, size)


def _finish(export: Export, size: int) -> None:
    stored = Export.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        file=export.file.name,
        size_bytes=size,
        done=F("total"),
        error="",
        finished_at=timezone.now(),
    )
    # Deleted (or ended by another delivery) meanwhile: keep no orphan file.
    if not stored and export.file.name:
        export.file.storage.delete(export.file.name)


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@transaction.atomic
def export_delete(*, export: Export) -> None:
    """Delete an export; its file is deleted from storage once that commits."""
    name = export.file.name
    export.delete()
    if name:
        jobs.enqueue(Task.STORAGE_DELETE_FILES, [name])
