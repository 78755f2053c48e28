"""Tasks whose sending failed while the broker was down, kept until beat sends them again."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class PendingSend(models.Model):
    """One task to send again: its name and what it was sent with.

    Identical sends (same task, arguments and options) share one row, by ``key``;
    ``attempts`` counts the failed sends it stands for, and changes whenever one more is
    kept, so a row that gains a send while it is being sent again is not deleted.
    """

    task = models.CharField(max_length=255)
    args = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    kwargs = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    options = models.JSONField(
        default=dict, encoder=DjangoJSONEncoder, help_text="Celery send options (countdown)."
    )
    key = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the task, arguments and options."
    )
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)!r} ({self.attempts} failed sends)"
