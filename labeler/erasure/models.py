"""The record of every erasure: who asked, why, what it matched and what it removed.

It names images by id only: never their bytes, file names or hashes, which the erasure
removed everywhere else.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.projects.models import Project


class Erasure(models.Model):
    """One erasure of a project's images (``services.images_erase``): its report."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(help_text="Why, in the requester's words (a person's request).")
    query = models.JSONField(
        default=dict, help_text='How the images were chosen: {"image_ids": [...]} or a filter.'
    )
    image_count = models.PositiveIntegerField(default=0)
    image_ids = models.JSONField(default=list, help_text="The ids of the images erased.")
    files = models.JSONField(
        default=dict, help_text="Stored files removed, by kind ({kind: count})."
    )
    exports_deleted = models.JSONField(
        default=list, help_text="The ids of the exports deleted because they held an image."
    )
    served_deleted = models.PositiveIntegerField(
        default=0, help_text="Served predictions' log rows of these images deleted."
    )
    prediction_jobs_deleted = models.PositiveIntegerField(default=0)
    versions_marked = models.JSONField(
        default=dict, help_text="{model version number: images it learnt from erased}."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-id"]

    def __str__(self) -> str:
        return f"erasure {self.pk} of {self.image_count} images ({self.project_id})"
