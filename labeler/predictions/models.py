"""Training runs, the model versions they produce, their predictions and machine labels."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.images.models import Image
from labeler.projects.models import Label, Project


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RunReason(models.TextChoices):
    MANUAL = "manual", "Manual"
    REFRESH = "refresh", "Refresh"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class TrainingRun(models.Model):
    """One training of a project's model: its configuration, progress and outcome."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    reason = models.CharField(max_length=16, choices=RunReason.choices, default=RunReason.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    config = models.JSONField(default=dict, help_text="The cleaned training configuration used.")
    device = models.CharField(max_length=32, blank=True)
    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=0)
    progress = models.FloatField(default=0.0, help_text="0..1")
    history = models.JSONField(
        default=list,
        blank=True,
        help_text="Per epoch: epoch, train_loss, val_loss, val_accuracy, val_macro_f1.",
    )
    message = models.TextField(blank=True, help_text="The error, or a note.")
    stage = models.CharField(
        max_length=200,
        blank=True,
        db_default="",
        help_text="What the worker is doing while the run runs (decoding the images, "
        "training, scoring the test images, the label check, saving); once it ended, the "
        "last of these it reached.",
    )
    cancel_requested = models.BooleanField(default=False)
    label_count = models.PositiveIntegerField(
        default=0, help_text="Trainable final labels when the run began."
    )
    train_count = models.PositiveIntegerField(default=0)
    validation_count = models.PositiveIntegerField(default=0)
    test_count = models.PositiveIntegerField(
        default=0, help_text="Held-out test images the new version is scored on."
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-id"]
        constraints = [
            # Never two trainings of a project at once.
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=["queued", "running"]),
                name="training_run_one_active",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="training_run_live_idx")]

    def __str__(self) -> str:
        return f"training run {self.pk} of {self.project} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class ModelVersion(models.Model):
    """A trained model of a project: its weights, metrics and whether it pre-labels now."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    version = models.PositiveIntegerField()
    run = models.OneToOneField(
        TrainingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_version",
    )
    architecture = models.CharField(max_length=64, default="small-cnn")
    label_count = models.PositiveIntegerField(default=0, help_text="Final labels trained on.")
    metrics = models.JSONField(default=dict, blank=True)
    validation_image_ids = models.JSONField(default=list, blank=True)
    weights = models.CharField(
        max_length=255, blank=True, help_text="File name under LABELER_MODEL_DIR."
    )
    weights_sha256 = models.CharField(max_length=64, blank=True)
    is_current = models.BooleanField(default=False, help_text="Whether it pre-labels now.")
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promotion_note = models.TextField(blank=True)
    prelabel_total = models.PositiveIntegerField(
        default=0, help_text="Images the latest pre-label pass set out to predict."
    )
    prelabel_done = models.PositiveIntegerField(
        default=0, help_text="Images of the latest pass whose prediction is stored."
    )
    prelabel_started_at = models.DateTimeField(null=True, blank=True)
    prelabel_done_at = models.DateTimeField(null=True, blank=True)
    # Images it may have learnt from (final-labelled, or among its test images, before it
    # was made) that were erased since at someone's request: its weights still carry what
    # it learnt of them, so it is due a retraining (``versions_mark_erased``).
    trained_on_erased = models.PositiveIntegerField(default=0, db_default=0)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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


class SplitSide(models.TextChoices):
    TEST = "test", "Test"
    DEVELOPMENT = "development", "Development"


class SplitAssignment(models.Model):
    """Which side of the project's held-out test split a final-labelled image is on.

    Written once per image (``labeler.predictions.test_split``, its one writer) and never
    changed: a test image is never trained on, tuned on or used to choose an epoch, and an
    image once used for development never moves into the test set.
    """

    image = models.OneToOneField(
        Image, on_delete=models.CASCADE, primary_key=True, related_name="split_assignment"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    side = models.CharField(max_length=16, choices=SplitSide.choices)
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image"]
        indexes = [models.Index(fields=["project", "side"], name="split_assignment_side_idx")]

    def __str__(self) -> str:
        return f"image {self.image_id} in {self.side}"


class VersionTestOutputs(models.Model):
    """A model version's probabilities on each held-out test image, and the labels it was
    scored against then: what its test figures were computed from, for other figures
    (slices) later. Probabilities are float64, row-major (images x labels)."""

    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, primary_key=True, related_name="test_outputs"
    )
    image_ids = models.JSONField(default=list)
    label_ids = models.JSONField(default=list, help_text="The probabilities' columns.")
    targets = models.JSONField(default=list, help_text="Per image, its final label ids then.")
    probabilities = models.BinaryField()
    multi_label = models.BooleanField(default=False)
    thresholds = models.JSONField(null=True, blank=True, help_text="Multi-label: per column.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"test outputs of model version {self.model_version_id}"


class Prediction(models.Model):
    """A model version's per-label probabilities for one image."""

    # No index of its own: prediction_unique (image, model_version) leads with the image,
    # and one index fewer to update per row matters at thousands of rows a second.
    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, related_name="predictions", db_index=False
    )
    # Indexed with the confidence (prediction_model_confidence), not on its own.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions", db_index=False
    )
    probabilities = models.JSONField(help_text="{label id: probability}")
    confidence = models.FloatField(
        null=True, blank=True, help_text="Confidence of the suggestion made from it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "model_version"], name="prediction_unique"),
        ]
        # A model's predictions in confidence order, for the data browser's sort by the
        # model's confidence (labeler.browse.sorts); it serves the model's lookups too.
        indexes = [
            models.Index(
                fields=["model_version", "confidence", "image"],
                name="prediction_model_confidence",
            )
        ]

    def __str__(self) -> str:
        return f"prediction of image {self.image_id} by {self.model_version}"


class MachineLabelStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    CORRECTED = "corrected", "Corrected"


class MachineLabel(models.Model):
    """A model's labels for an image, sent to a person to confirm or correct in bulk."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="machine_labels")
    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="machine_label")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="machine_labels"
    )
    label_ids = models.JSONField(help_text="The suggested label ids, sorted.")
    confidence = models.FloatField()
    status = models.CharField(
        max_length=16, choices=MachineLabelStatus.choices, default=MachineLabelStatus.PENDING
    )
    spot_check = models.BooleanField(
        default=False, help_text="Confirmed, yet still sent to annotators blind."
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "status"], name="machine_label_status_idx")]

    def __str__(self) -> str:
        return f"machine label of image {self.image_id} ({self.status})"


class LabelCheck(models.Model):
    """A final label checked against a model that never trained on its image.

    Written after a training with ``label_check_folds`` (``labeler.predictions.
    label_check``): the out-of-sample probabilities, cleanlab's label quality score
    (0..1, low: likely wrong) and whether confident learning flags the label. One row per
    image, the latest check's.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_checks")
    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="label_check")
    run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    given_label = models.ForeignKey(
        Label, null=True, on_delete=models.SET_NULL, related_name="+", help_text="Checked label."
    )
    predicted_label = models.ForeignKey(
        Label, null=True, on_delete=models.SET_NULL, related_name="+", help_text="Model's top."
    )
    # The label sets, in single-label projects one label each; a multi-label project's
    # check has only these (given_label and predicted_label stay null).
    given_label_ids = models.JSONField(default=list, help_text="Checked labels (ids).")
    predicted_label_ids = models.JSONField(
        default=list, help_text="Labels the model gives (top label; multi-label: p >= 0.5)."
    )
    probabilities = models.JSONField(help_text="{label id: out-of-sample probability}")
    quality = models.FloatField(help_text="cleanlab's label quality score; low: likely wrong.")
    flagged = models.BooleanField(default=False, help_text="Confident learning's label issue.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["quality", "id"]
        indexes = [
            models.Index(fields=["project", "flagged", "quality"], name="label_check_flagged_idx")
        ]

    def __str__(self) -> str:
        return f"label check of image {self.image_id} ({'flagged' if self.flagged else 'ok'})"


class PackageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ModelPackage(models.Model):
    """A model version packaged to leave the server: TorchScript, ONNX and its model card.

    The files lie under ``LABELER_MODEL_DIR`` (``labeler.predictions.packages``); this row
    says how far the packaging got and what it wrote.
    """

    model_version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, primary_key=True, related_name="package"
    )
    status = models.CharField(
        max_length=16, choices=PackageStatus.choices, default=PackageStatus.QUEUED
    )
    message = models.TextField(blank=True, help_text="Why the packaging failed.")
    files = models.JSONField(
        default=dict, blank=True, help_text="{kind: {name, bytes, sha256}} once ready."
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"package of model version {self.model_version_id} ({self.status})"
