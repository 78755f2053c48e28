"""The audit trail: entries that are only ever added, each chained to the one before by hash.

An entry copies what it names (the actor's id and username, the project's id and name,
the target's text) instead of pointing at it with a foreign key: a deleted user or
project leaves its entries as they were, and a foreign key's ``SET_NULL`` would rewrite
them, which the append-only rule forbids (the database triggers refuse any UPDATE).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.db import models


class AppendOnly(Exception):
    """Raised on any attempt to change or delete audit entries outside the retention purge."""


class Action(models.TextChoices):
    """What an entry records (a fixed list: filters, the API and the docs name these)."""

    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Login failed"
    LOGOUT = "logout", "Logged out"
    ACCOUNT_CREATED = "account_created", "Account created"
    ACCOUNT_ACTIVE_CHANGED = "account_active_changed", "Account activated or deactivated"
    ACCOUNT_FLAGS_CHANGED = "account_flags_changed", "Staff or admin flag changed"
    EMAIL_VERIFIED = "email_verified", "E-mail address verified"
    ROLE_SET = "role_set", "Project role given or changed"
    ROLE_REMOVED = "role_removed", "Project role removed"
    INVITATION_CREATED = "invitation_created", "Invitation created"
    INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
    PROJECT_CREATED = "project_created", "Project created"
    PROJECT_SETTINGS_CHANGED = "project_settings_changed", "Project settings changed"
    PROJECT_DELETED = "project_deleted", "Project deleted"
    EXPORT_CREATED = "export_created", "Export created"
    EXPORT_DOWNLOADED = "export_downloaded", "Export downloaded"
    ORIGINAL_DOWNLOADED = "original_downloaded", "Original image downloaded"
    IMAGES_DELETED = "images_deleted", "Images deleted"
    IMAGES_ERASED = "images_erased", "Images erased (a request to be forgotten)"
    BULK_ACTION = "bulk_action", "Bulk action"
    RESERVATIONS_CHANGED = "reservations_changed", "Reservations changed"
    MODEL_PROMOTED = "model_promoted", "Model promoted"
    MODEL_DOWNLOADED = "model_downloaded", "Model downloaded"
    TOKEN_ISSUED = "token_issued", "Prediction token issued"
    TOKEN_REVOKED = "token_revoked", "Prediction token revoked"
    ACCESS_REFUSED = "access_refused", "Refused: a role short of what the route needs"
    AUDIT_PURGED = "audit_purged", "Old audit entries purged"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Entries are read and added; a queryset's update or delete is refused."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnly("Audit entries cannot be changed.")

    def delete(self) -> NoReturn:
        raise AppendOnly("Audit entries cannot be deleted (only the retention purge may).")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("Audit entries cannot be changed.")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("Audit entries cannot be changed.")


class AuditEntry(models.Model):
    """One recorded event: who, when, from where, what, and the hash that chains it."""

    sequence = models.BigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_name = models.CharField(max_length=150, blank=True)
    address = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    project_name = models.CharField(max_length=200, blank=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_text = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["project_id", "sequence"], name="audit_project_seq")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_name or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert once; saving an entry that exists is refused."""
        if not self._state.adding:
            raise AppendOnly("Audit entries cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("Audit entries cannot be deleted (only the retention purge may).")

    @property
    def details_json(self) -> str:
        """The details as JSON, as the CSV and JSONL exports give them."""
        return json.dumps(self.details, ensure_ascii=False, sort_keys=True)


class AuditChain(models.Model):
    """The chain's one head row: the last entry and the anchor left by the last purge.

    Every write locks this row first (``select_for_update``), so entries are numbered and
    chained one after another. ``anchor_sequence``/``anchor_hash`` are the last purged
    entry's: the first kept entry must follow them. ``purge_through`` is SQLite's purge
    flag, read by its DELETE trigger (PostgreSQL's trigger reads a transaction-local
    setting instead); it is 0 except inside the purge's transaction.
    """

    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    anchor_sequence = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default="")
    purge_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"audit chain at #{self.last_sequence}"
