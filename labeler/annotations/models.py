"""Human labels on images: annotations with their history, queue leases and final labels."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeler.images.models import Image
from labeler.projects.models import Label, Project


class Annotation(models.Model):
    """One annotator's current labels for one image; edits keep history as revisions."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    labels = models.ManyToManyField(Label, related_name="annotations")
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    suggested_by = models.ForeignKey(
        "predictions.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The model whose suggestion the annotator was shown, if any.",
    )
    suggestion_accepted = models.BooleanField(
        default=False, help_text="Whether the labels are the suggestion, accepted as shown."
    )
    suggestion_shown = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Whether the queue showed a model's suggestion with the image.",
    )
    suggestion_withheld = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Whether the model had a suggestion that the queue held back on purpose.",
    )
    grid = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Whether the label was given on a grid page (the lease said so).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="annotation_unique"),
        ]
        indexes = [
            # (project, annotator) lookups, and a person's latest annotations newest first
            # (label_use reads the last few thousand of them).
            models.Index(fields=["project", "annotator", "id"], name="annotation_mine_recent_idx"),
            models.Index(fields=["project", "updated_at"], name="annotation_by_time_idx"),
        ]

    def __str__(self) -> str:
        return f"annotation {self.pk} of image {self.image_id} by {self.annotator_id}"


class AnnotationRevision(models.Model):
    """An immutable snapshot of an annotation as it was saved, oldest first."""

    # Also indexed with its id (Meta): the history trigger's "revision before this one"
    # walks that index back one step, where the planner took the table's id index
    # backwards past every revision when it expected few of an annotation (a new one:
    # all of them). The column's own index stays: dropping it would rebuild the table on
    # SQLite, and with it go the table's triggers.
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="revisions")
    label_ids = models.JSONField(help_text="Label ids as saved, sorted.")
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["annotation", "id"]
        indexes = [models.Index(fields=["annotation", "id"], name="revision_annotation_idx")]

    def __str__(self) -> str:
        return f"revision {self.pk} of annotation {self.annotation_id}"


class Assignment(models.Model):
    """An annotator's lease on an image handed out by the queue, until it expires.

    It also keeps the suggestion the queue handed out with the image, from which the
    submit derives whether the annotator accepted it. An expired lease is kept a while
    (``LABELER_LATE_SUBMIT_SECONDS``) so that a label sent late still counts if it fits.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    expires_at = models.DateTimeField()
    suggested_by = models.ForeignKey(
        "predictions.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The model whose suggestion was handed out with the image, if any.",
    )
    suggested_label_ids = models.JSONField(
        null=True, blank=True, help_text="The suggested label ids as handed out, sorted."
    )
    suggestion_withheld = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Whether the model's suggestion was held back on purpose.",
    )
    grid = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Whether the image was handed out on a grid page (queue/page/).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="assignment_unique"),
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "expires_at"], name="assignment_mine_idx"),
            models.Index(fields=["expires_at"], name="assignment_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"lease of image {self.image_id} to {self.annotator_id}"


class Skip(models.Model):
    """An annotator passed on an image; it leaves their queue and counts toward no overlap."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="skips")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skips"
    )
    reason = models.CharField(max_length=500, blank=True)
    # Whether the image was skipped on a grid page (its lease's flag): taking the skip
    # back, or labelling the image after it, is then a page's lease and under its cap.
    grid = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="skip_unique"),
        ]
        indexes = [models.Index(fields=["project", "annotator"], name="skip_by_annotator_idx")]

    def __str__(self) -> str:
        return f"skip of image {self.image_id} by {self.annotator_id}"


class FinalLabelMethod(models.TextChoices):
    CONSENSUS = "consensus", "Consensus"
    ADJUDICATED = "adjudicated", "Adjudicated"
    GOLD = "gold", "Gold"
    MACHINE = "machine", "Machine, confirmed"
    IMPORTED = "imported", "Imported"


class FinalLabel(models.Model):
    """The label an image is trained and exported with, and how it was decided."""

    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="final_label")
    labels = models.ManyToManyField(Label, related_name="final_labels")
    method = models.CharField(max_length=16, choices=FinalLabelMethod.choices)
    confidence = models.FloatField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["image"]
        indexes = [
            # The data browser's confidence order walks it (labeler.browse.sorts).
            models.Index(fields=["confidence", "image"], name="final_label_by_confidence_idx"),
            # The queue's gold draws (annotations.qualification.gold_open_to) start from the
            # few gold images, not from every final label of every project.
            models.Index(
                fields=["image"],
                name="final_label_gold_idx",
                condition=models.Q(method=FinalLabelMethod.GOLD),
            ),
        ]

    def __str__(self) -> str:
        return f"final label of image {self.image_id} ({self.method})"


class LabelChangeKind(models.TextChoices):
    ANNOTATION_CREATED = "annotation_created", "Annotation created"
    ANNOTATION_CHANGED = "annotation_changed", "Annotation changed"
    ANNOTATION_WITHDRAWN = "annotation_withdrawn", "Annotation withdrawn"
    FINAL_SET = "final_set", "Final label set"
    FINAL_CLEARED = "final_cleared", "Final label cleared"


class LabelChange(models.Model):
    """One change of an image's labels: what kind, who, when, from which labels to which.

    Rows outlive what they describe (a withdrawn annotation, a cleared final label), so
    the annotation is kept as a plain id. Annotators' own changes are written by a database
    trigger on ``AnnotationRevision`` (migration 0005), final labels by ``history.py``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="label_changes")
    kind = models.CharField(max_length=24, choices=LabelChangeKind.choices)
    method = models.CharField(
        max_length=16,
        choices=FinalLabelMethod.choices,
        blank=True,
        help_text="How a final label was decided; for an annotation, imported when an "
        "import wrote it, else empty.",
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose annotation changed; empty for final labels.",
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who made the change; empty when the system did (consensus).",
    )
    model_version = models.ForeignKey(
        "predictions.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The model whose labels were taken (a confirmed machine label or suggestion).",
    )
    annotation_id = models.BigIntegerField(null=True, blank=True)
    from_label_ids = models.JSONField(default=list, help_text="Label ids before, sorted.")
    to_label_ids = models.JSONField(default=list, help_text="Label ids after, sorted.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "-id"], name="label_change_project_idx"),
            models.Index(fields=["image", "id"], name="label_change_image_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of image {self.image_id}"


class StandingStatus(models.TextChoices):
    QUALIFYING = "qualifying", "Taking the qualification test"
    FAILED = "failed", "Failed the qualification test"
    QUALIFIED = "qualified", "Labelling"
    PAUSED = "paused", "Paused: gold accuracy too low"


class AnnotatorStanding(models.Model):
    """Whether an annotator may take the project's real queue: their qualification test on
    gold images, and whether their rolling gold accuracy has paused them.

    Gold answers are counted by annotation id: the test counts the annotator's gold answers
    after ``test_after``, the rolling accuracy those after ``window_after`` (a lead's retake
    or unpause starts afresh).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="standings")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="standings"
    )
    status = models.CharField(max_length=16, choices=StandingStatus.choices)
    test_after = models.BigIntegerField(
        default=0, help_text="Gold answers with a larger annotation id count toward the test."
    )
    window_after = models.BigIntegerField(
        default=0, help_text="Gold answers with a larger annotation id count toward pausing."
    )
    checked_through = models.BigIntegerField(
        default=0, help_text="The latest gold answer the rolling accuracy was checked after."
    )
    test_answered = models.PositiveIntegerField(default=0)
    test_correct = models.PositiveIntegerField(default=0)
    rolling_answered = models.PositiveIntegerField(default=0)
    rolling_correct = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Tests started.")
    changed_at = models.DateTimeField(help_text="When the status last changed.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The lead who last changed the status; empty when the queue did.",
    )

    class Meta:
        ordering = ["project", "annotator"]
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="standing_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} {self.status} in project {self.project_id}"


class ImageReservation(models.Model):
    """An image kept for named annotators: the queue serves a reserved image only to them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="reservations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "annotator"], name="reservation_unique"),
        ]

    def __str__(self) -> str:
        return f"image {self.image_id} kept for {self.annotator_id}"
