"""Write requests sent with an Idempotency-Key, with the answer they got, for replays."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """A user's write under one key: what was asked (a fingerprint) and what was answered.

    Written in the same transaction as the write itself, so a key is stored exactly
    when its write is; kept until ``expires_at``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the request's method, path and body."
    )
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Text, not JSON: the answer is replayed with its keys in their order.
    response = models.TextField(blank=True, help_text="The answer's body, as JSON.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_unique"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="idempotent_request_expiry_idx")]

    def __str__(self) -> str:
        return f"request {self.key!r} of user {self.user_id}"
