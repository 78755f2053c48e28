"""Trained model versions and the per-label probabilities they predict."""

from __future__ import annotations

from django.db import models

from labeler.images.models import Image
from labeler.projects.models import Project


class ModelStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ModelVersion(models.Model):
    """One trained (or training) model of a project, with its metrics and weights."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ModelStatus.choices, default=ModelStatus.QUEUED
    )
    architecture = models.CharField(max_length=64, default="small-cnn")
    metrics = models.JSONField(default=dict, blank=True)
    weights = models.CharField(max_length=255, blank=True, help_text="Storage name of the weights.")
    is_current = models.BooleanField(default=False, help_text="Whether it pre-labels now.")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(is_current=True),
                name="model_version_one_current",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} model v{self.version}"


class Prediction(models.Model):
    """A model version's per-label probabilities for one image."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions"
    )
    probabilities = models.JSONField(help_text="{label id: probability}")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "model_version"], name="prediction_unique"),
        ]

    def __str__(self) -> str:
        return f"prediction of image {self.image_id} by {self.model_version}"
