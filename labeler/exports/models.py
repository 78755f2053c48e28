"""Background exports: what was asked, how far it got, and the file it wrote."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.projects.models import Project


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


def export_upload_to(export: Export, filename: str) -> str:
    return f"exports/{export.project_id}/{filename}"


class Export(models.Model):
    """One export of a project written by a worker, downloadable once done."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=32)
    options = models.JSONField(default=dict, help_text="The checked options, format included.")
    base_url = models.CharField(
        max_length=2048,
        blank=True,
        db_default="",
        help_text="This site's address as the request that started it reached it, which "
        "signed image links are made absolute with.",
    )
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    done = models.PositiveIntegerField(default=0, help_text="Images read so far.")
    total = models.PositiveIntegerField(default=0, help_text="Images selected.")
    file = models.FileField(upload_to=export_upload_to, max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    content_version = models.CharField(
        max_length=64,
        blank=True,
        db_default="",
        help_text="What the project held when the file was written (labels, final labels, "
        "images): an export asked for again with the same options while this is unchanged "
        "gets this one back instead of a copy.",
    )
    # Which images the file holds, as sorted [first, last] runs of ids (a project's ids
    # mostly come in runs, so a million images take a few rows): an erasure finds the
    # files that hold an image from it (``manifest.py``). Null: written before files
    # were listed, or not written yet; an erasure counts such a file as holding any image.
    image_id_runs = models.JSONField(null=True, blank=True)
    split = models.JSONField(
        null=True,
        blank=True,
        help_text="What a split made once written: each side's images (sides) and what a "
        "reader should know (warnings: a side asked for that came out empty or far from "
        "its share). Null without a split.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-id"]
        indexes = [
            # The cleanup and the queue position read the exports of a status, oldest first.
            models.Index(fields=["status", "id"], name="export_by_status_idx"),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.project} ({self.format}, {self.status})"

    @property
    def progress(self) -> float:
        """The share of images read, 0..1 (1 once done)."""
        if self.status == ExportStatus.DONE:
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0
