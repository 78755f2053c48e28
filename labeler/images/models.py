"""Images to label, stored under content-addressed names."""

from __future__ import annotations

from django.db import models

from labeler.projects.models import Project


class Image(models.Model):
    """One image of a project, with what the annotation queue needs to pick it fast."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255, blank=True)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    size_bytes = models.PositiveBigIntegerField()
    priority = models.FloatField(
        default=0.0, help_text="Higher comes first in the annotation queue."
    )
    annotation_count = models.PositiveIntegerField(default=0)
    is_complete = models.BooleanField(
        default=False, help_text="Whether annotation_count has reached the project's overlap."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="image_unique_content"),
        ]
        indexes = [
            # The queue: open images of a project, best first.
            models.Index(
                fields=["project", "-priority", "id"],
                condition=models.Q(is_complete=False),
                name="image_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name
