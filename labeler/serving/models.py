"""What the model saw in use: one row per image a prediction request was answered for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

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
    # The prediction token that asked, when a system asked rather than a person.
    token = models.ForeignKey(
        "serving.PredictToken", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    duration_ms = models.FloatField(default=0.0, help_text="The model's time for this image.")
    # When it was answered (its row is written a moment later: labeler.serving.served_log).
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"], name="served_project_time")]

    def __str__(self) -> str:
        return f"served {self.image_sha256[:12]} ({self.project_id})"


class PredictToken(models.Model):
    """A key that may only request predictions, of one project (``labeler.serving.tokens``).

    The key is shown once, when issued; only its sha256 is kept (a key is 32 random bytes,
    so a plain hash cannot be reversed by guessing) and its first characters, to tell
    tokens apart on the page.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    key_sha256 = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def audit_actor_name(self) -> str:
        """Who the audit trail names for a request this token authenticated (no user)."""
        return f"prediction token {self}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class PredictionJob(models.Model):
    """A prediction request too large to answer at once: its inputs, then its results.

    Uploaded inputs are kept in storage (``inputs``: one entry an image, with its stored
    name) until the worker has read them; the results are kept until the job expires.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    inputs = models.JSONField(default=list)
    results = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(PredictToken, null=True, on_delete=models.SET_NULL, related_name="+")
    duration_ms = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"prediction job {self.pk} ({self.status})"
