"""What the drift check keeps: each model version's reference (its test images seen through
it) and every check's figures and verdict."""

from __future__ import annotations

from django.db import models

from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project


class DriftReference(models.Model):
    """A model version's outputs on its test images, the sample recent inputs are compared with.

    Computed once per version by the worker (``worker.drift_reference``). ``embeddings``:
    float16 little-endian bytes (n, ``dimension``), as the served log keeps them;
    ``confidences``: float32 (n,) top probabilities; ``top_label_ids``: the label each
    image was predicted. No test image at all: n = 0, and checks say so.
    """

    model_version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="+")
    image_ids = models.JSONField(default=list)
    top_label_ids = models.JSONField(default=list)
    confidences = models.BinaryField()
    embeddings = models.BinaryField()
    dimension = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"drift reference of version {self.model_version_id} ({len(self.image_ids)})"


class DriftCheck(models.Model):
    """One drift check: the served predictions of a window against the version's test images.

    Each test's statistic and p-value (``labeler.monitoring.statistics``), the tests Holm's
    correction rejected at the project's false-alarm rate, the alarm and why, in words.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    n_recent = models.PositiveIntegerField(help_text="Served predictions in the window.")
    n_reference = models.PositiveIntegerField(help_text="Test images of the version.")
    embedding_statistic = models.FloatField(help_text="MMD^2, RBF kernel.")
    embedding_p = models.FloatField()
    confidence_statistic = models.FloatField(help_text="Kolmogorov-Smirnov D.")
    confidence_p = models.FloatField()
    labels_statistic = models.FloatField(help_text="Chi-square of the predicted-label mix.")
    labels_p = models.FloatField()
    false_alarm_rate = models.FloatField()
    rejected = models.JSONField(default=list, help_text="The tests that found a difference.")
    alarm = models.BooleanField(default=False)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"], name="drift_check_project_time")]

    def __str__(self) -> str:
        verdict = "alarm" if self.alarm else "no alarm"
        return f"drift check {self.pk} of project {self.project_id}: {verdict}"
