"""Exports: checked before they start, written by a worker to a temporary file, then stored."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from labeler import jobs
from labeler.agreement.final_labels import final_labels_fresh
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import DomainError, ValidationFailed
from labeler.exports import retention
from labeler.exports.content_version import export_content_version
from labeler.exports.formats import ExportSource, exporter_get
from labeler.exports.formats.archives import hf_labels_check
from labeler.exports.lanes import export_lane
from labeler.exports.manifest import runs_hold, runs_of
from labeler.exports.models import Export, ExportStatus
from labeler.exports.options import ExportOptions, export_options_parse
from labeler.exports.selection import export_count, export_selection
from labeler.exports.split import split_report
from labeler.images.duplicates.groups import duplicate_groups_settled_check
from labeler.predictions.test_split import test_split_assign
from labeler.projects.models import Project
from labeler.task_names import Task
from labeler.webhooks import events
from labeler.webhooks.services import webhook_event_emit

logger = logging.getLogger(__name__)


def export_check(*, project: Project, options: ExportOptions) -> int:
    """Check what the options name against the project; returns the images selected.

    Final labels are brought up to date first: an export holds every label given before
    it was asked for (and, written by a worker, before it started). A split keeps each
    near-duplicate group on one side, so it is refused (Conflict, with how many) while
    the worker is still hashing images of the project. The project's own split is
    stored for every final-labelled image first (``test_split_assign``), so the images
    an export calls test stay the test images the project's models are scored on.
    """
    if options.split:
        duplicate_groups_settled_check(project=project)
    final_labels_fresh(project=project)
    if options.split_by_project:
        test_split_assign(project=project)
    if options.format == "hf-imagefolder":
        hf_labels_check(project)
    return export_count(project, options)


def export_direct_check(*, project: Project, options: ExportOptions) -> None:
    """Refuse a direct download above LABELER_EXPORT_DIRECT_MAX_IMAGES images; one let
    through is recorded in the audit trail (the reader from the request)."""
    count = export_check(project=project, options=options)
    limit = settings.LABELER_EXPORT_DIRECT_MAX_IMAGES
    if count > limit:
        raise ValidationFailed(
            f"The selection holds {count} images, more than {limit} for a direct download: "
            f"start a background export with POST /api/v1/projects/{project.pk}/exports/.",
            count=count,
            limit=limit,
        )
    audit_record(
        action=Action.EXPORT_DOWNLOADED,
        project=project,
        target=("export", "direct", options.format),
        details={"direct": True, "images": count, "options": options.as_dict()},
    )


def export_file_name(project: Project, options: ExportOptions, export_id: int | None) -> str:
    """``<project slug>-<project id>[-<export id>].<extension>``."""
    suffix = f"-{export_id}" if export_id is not None else ""
    extension = exporter_get(options.format).extension
    return f"{slugify(project.name) or 'project'}-{project.pk}{suffix}.{extension}"


@dataclass(frozen=True)
class ExportStarted:
    """The export a request got, and whether it is an earlier one handed back."""

    export: Export
    reused: bool


@transaction.atomic
def export_request(
    *,
    project: Project,
    user: User | None,
    options: ExportOptions,
    base_url: str = "",
    reuse: bool = True,
) -> ExportStarted:
    """Queue an export, or with ``reuse`` hand back an identical one not yet deleted.

    Identical: the same options (and site address), asked for while the project held
    what it holds now (``export_content_version``), and not failed; it may still be queued
    or running. Exports with signed image links are never handed back: a new one gets
    links that work for as long as asked.
    """
    total = export_check(project=project, options=options)
    version = export_content_version(project, options)
    if reuse and options.image_urls != "signed":
        same = _same_export(project, options, base_url, version)
        if same is not None:
            return ExportStarted(same, reused=True)
    export = Export.objects.create(
        project=project,
        created_by=user,
        format=options.format,
        options=options.as_dict(),
        base_url=base_url,
        total=total,
        content_version=version,
    )
    audit_record(
        action=Action.EXPORT_CREATED,
        actor=user,
        project=project,
        target=("export", export.pk, export.format),
        details={"images": total, "options": export.options},
    )
    jobs.enqueue(export_lane(format=export.format, total=total), export.pk)
    return ExportStarted(export, reused=False)


def export_start(
    *, project: Project, user: User | None, options: ExportOptions, base_url: str = ""
) -> Export:
    """Record a new queued export and send it to a worker once the transaction commits.

    ``base_url``: this site's address as the request reached it (signed image links).
    """
    started = export_request(
        project=project, user=user, options=options, base_url=base_url, reuse=False
    )
    return started.export


def _same_export(
    project: Project, options: ExportOptions, base_url: str, version: str
) -> Export | None:
    candidates = Export.objects.filter(
        project=project,
        format=options.format,
        base_url=base_url,
        content_version=version,
        status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.DONE),
    ).select_related("created_by")
    keep_days = settings.LABELER_EXPORT_KEEP_DAYS
    if keep_days > 0:  # one handed back has a day left at least before the cleanup takes it
        ends_soon = timezone.now() - timedelta(days=keep_days - 1)
        candidates = candidates.exclude(status=ExportStatus.DONE, finished_at__lt=ends_soon)
    wanted = options.as_dict()
    return next((e for e in candidates.order_by("-pk") if e.options == wanted), None)


def export_run(*, export_id: int) -> Export | None:
    """Write a queued (or interrupted) export; a finished or deleted one is left alone.

    The file is written to a temporary file and stored once complete, so an export is
    never marked done with a partial file; any failure marks it failed with its reason.
    Once it ended, exports the settings no longer keep are deleted (``retention``).
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
    _purge_after(export_id)
    return Export.objects.filter(pk=export_id).first()


def _purge_after(export_id: int) -> None:
    # The export itself has ended: a failure to clean up is logged, never made its own.
    try:
        retention.exports_purge()
    except Exception:
        logger.exception("Cleaning up old exports after export %s failed", export_id)


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
    # What it holds from here on: an export asked for later while this is unchanged is this one.
    version = export_content_version(project, options)
    Export.objects.filter(pk=export.pk).update(total=total, content_version=version)

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
    # Read after the file is whole: every image it holds is among these (an image erased
    # meanwhile deleted this running export's row, and _finish then deletes the file).
    held = export_selection(project, options).images.order_by().values_list("pk", flat=True)
    _finish(export, size, runs_of(held.iterator()), _split_made(options, source))


def _split_made(options: ExportOptions, source: ExportSource) -> dict[str, object] | None:
    """What the split made (each side's images) and its warnings; None without a split."""
    if not options.split:
        return None
    return split_report(options.split_shares, options.split_names, source.split_made).as_dict()


def _finish(
    export: Export, size: int, image_id_runs: list[list[int]], split: dict[str, object] | None
) -> None:
    """Mark the export done with its file; webhooks hear ``export.ready`` with it."""
    with transaction.atomic():
        stored = Export.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.DONE,
            file=export.file.name,
            image_id_runs=image_id_runs,
            split=split,
            size_bytes=size,
            done=F("total"),
            error="",
            finished_at=timezone.now(),
        )
        if stored:
            _ready_announce(export.pk, size)
    # Deleted (or ended by another delivery) meanwhile: keep no orphan file.
    if not stored and export.file.name:
        export.file.storage.delete(export.file.name)


def _ready_announce(export_id: int, size: int) -> None:
    export = Export.objects.get(pk=export_id)
    webhook_event_emit(
        project_id=export.project_id,
        event=events.EXPORT_READY,
        payload={
            "export_id": export.pk,
            "format": export.options.get("format"),
            "images": export.total,
            "size_bytes": size,
            "download_path": reverse("api:export-download", kwargs={"pk": export.pk}),
        },
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def exports_holding(*, project: Project, image_ids: Collection[int]) -> list[Export]:
    """The project's exports that may hold one of the images: those that list one, those
    written before files were listed, every export not ended yet (its file, still being
    written, may take any image), and every failed one (no file, but its message may name
    the stored file it stopped at, which holds the image's hash)."""
    found = []
    rows = Export.objects.filter(project=project).order_by("pk")
    for export in rows.only("pk", "status", "file", "image_id_runs", "format"):
        listed = export.image_id_runs
        if export.status != ExportStatus.DONE or listed is None or runs_hold(listed, image_ids):
            found.append(export)
    return found


def exports_delete(*, exports: Collection[Export]) -> list[str]:
    """Delete exports (rows now, in the caller's transaction; files once it commits);
    returns the stored names to be deleted. A running export whose row is gone deletes
    the file it was writing itself (``_finish``)."""
    names = [export.file.name for export in exports if export.file.name]
    Export.objects.filter(pk__in=[export.pk for export in exports]).delete()
    if names:
        jobs.enqueue(Task.STORAGE_DELETE_FILES, names)
    return names


@transaction.atomic
def export_file_open(*, export: Export) -> Any:
    """The finished export's file, opened for reading; the download is audited."""
    audit_record(
        action=Action.EXPORT_DOWNLOADED,
        project=export.project_id,
        target=("export", export.pk, export.format),
        details={"direct": False, "size_bytes": export.size_bytes},
    )
    return export.file.open("rb")


@transaction.atomic
def export_delete(*, export: Export) -> None:
    """Delete an export; its file is deleted from storage once that commits."""
    name = export.file.name
    export.delete()
    if name:
        jobs.enqueue(Task.STORAGE_DELETE_FILES, [name])
