"""The record of every bulk action: who did what to how many images, and its progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.projects.models import Project


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BulkAction(models.Model):
    """One bulk action: its audit row (who, what, how many, parameters) and, for a large
    selection run in the background, its job (status and progress)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=32)
    params = models.JSONField(default=dict, help_text="The action's parameters as checked.")
    selection = models.JSONField(
        default=dict, help_text="How the images were chosen (ids or a filter), as sent."
    )
    image_ids = models.JSONField(
        null=True, blank=True, help_text="The resolved ids while a background run waits."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Images selected.")
    done = models.PositiveIntegerField(default=0, help_text="Images acted on so far.")
    changed = models.PositiveIntegerField(
        default=0, help_text="Images the action changed (the rest were already so)."
    )
    result = models.JSONField(default=dict, blank=True, help_text="What the action made.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="bulk_action_recent")]

    def __str__(self) -> str:
        return f"{self.action} on {self.total} images of project {self.project_id}"
