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
