"""Buckets and folders registered with a project, read in place, and how their scan went."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.projects.models import Project


class ReferenceKind(models.TextChoices):
    S3 = "s3", "S3-compatible bucket"
    FOLDER = "folder", "Mounted folder"


class ReferenceStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SCANNING = "scanning", "Scanning"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Reference(models.Model):
    """One registration of a bucket prefix or a folder: a scan that lists it and adds its images.

    A scan goes in steps (``labeler.references.services.reference_scan_step``), each
    taking the next objects after ``cursor`` in the listing's order; the counts add up to
    ``found`` once done. Registering the same place again makes a new row whose scan adds
    only what is new.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="references")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=ReferenceKind.choices)
    bucket = models.CharField(max_length=63, blank=True)
    prefix = models.CharField(max_length=1024, blank=True)
    path = models.CharField(max_length=1024, blank=True, help_text="The folder, links resolved.")
    status = models.CharField(
        max_length=16, choices=ReferenceStatus.choices, default=ReferenceStatus.QUEUED
    )
    cursor = models.TextField(blank=True, help_text="The last key (or relative path) scanned.")
    found = models.PositiveIntegerField(default=0, help_text="Image files listed so far.")
    created = models.PositiveIntegerField(default=0, help_text="New images registered.")
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Images whose content the project already had."
    )
    known = models.PositiveIntegerField(
        default=0, help_text="Files registered before, skipped without reading them."
    )
    rejected = models.PositiveIntegerField(default=0, help_text="Files that are no usable image.")
    ignored = models.PositiveIntegerField(default=0, help_text="Files without an image extension.")
    problems = models.JSONField(
        default=list, blank=True, help_text="The first rejected files: key and reason."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-id"]

    def __str__(self) -> str:
        return f"reference {self.pk} of {self.project} ({self.location}, {self.status})"

    @property
    def location(self) -> str:
        """Where it points, as a person writes it."""
        if self.kind == ReferenceKind.S3:
            return f"s3://{self.bucket}/{self.prefix}"
        return self.path
