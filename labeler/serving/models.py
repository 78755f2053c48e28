"""What the model saw in use: one row per image a prediction request was answered for."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.predictions.models import ModelVersion
from labeler.projects.models import Label, Project


class ServedPrediction(models.Model):
    """One served prediction: the input's hash, the version, its answer, who asked, when.

    ``embedding`` is the network's penultimate-layer output for the input (float16,
    little-endian bytes): the drift check compares recent inputs with the test images
    through it, without keeping the inputs themselves.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    image_sha256 = models.CharField(max_length=64)
    top_label = models.ForeignKey(Label, null=True, on_delete=models.SET_NULL, related_name="+")
    probability = models.FloatField(help_text="The top label's probability.")
    probabilities = models.JSONField(default=dict, help_text="{label id: probability}")
    embedding = models.BinaryField(null=True, blank=True)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    duration_ms = models.FloatField(default=0.0, help_text="The model's time for this image.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"], name="served_project_time")]

    def __str__(self) -> str:
        return f"served {self.image_sha256[:12]} ({self.project_id})"
