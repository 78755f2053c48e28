"""What a project's consensus final labels were last computed from."""

from __future__ import annotations

from django.db import models

from labeler.projects.models import Project


class ConsensusWatermark(models.Model):
    """The project's label changes and consensus rules as its last consensus refresh saw them.

    Readers of final labels compare it with the project's label changes now (see
    ``final_labels.final_labels_current``): while they match, no label came in since.
    """

    project = models.OneToOneField(
        Project, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    change_count = models.PositiveBigIntegerField(
        help_text="How many label changes (LabelChange rows) the project had."
    )
    last_change_id = models.BigIntegerField(help_text="The newest of them; 0 for none.")
    rules = models.CharField(
        max_length=200, help_text="The consensus settings the refresh applied."
    )
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"consensus of project {self.project_id} as of change {self.last_change_id}"


class ReviewRequest(models.Model):
    """An explicit request that a person decide an image's label, beside the computed queue.

    A lead sends images to review ("requested"); other features file theirs (the model
    disagrees with the final label, near-duplicates labelled differently, ...). A person's
    decision on the image resolves its open requests. One open request per image and reason.
    """

    REQUESTED = "requested"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(
        "images.Image", on_delete=models.CASCADE, related_name="review_requests"
    )
    reason = models.CharField(
        max_length=40,
        help_text='Why: "requested" (a lead sent it), "model_disagrees", '
        '"duplicate_labels_differ", ...',
    )
    detail = models.JSONField(
        default=dict, blank=True, help_text="What the reviewer should know (probabilities, ...)."
    )
    requested_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "reason"],
                condition=models.Q(resolved_at__isnull=True),
                name="review_request_one_open_per_reason",
            )
        ]
        indexes = [
            models.Index(
                fields=["project", "created_at"],
                condition=models.Q(resolved_at__isnull=True),
                name="review_request_open",
            )
        ]

    def __str__(self) -> str:
        return f"review of image {self.image_id} ({self.reason})"
