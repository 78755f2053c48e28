"""Emptying the audit trail in tests, through the purge's own door (the triggers allow it)."""

from __future__ import annotations

from django.db import transaction

from labeler.audit.models import AuditChain
from labeler.audit.services import _prefix_delete


def audit_table_empty() -> None:
    """Delete every audit entry and reset the chain (tests only: a flush needs it empty)."""
    with transaction.atomic():
        _prefix_delete(2**62)
        AuditChain.objects.filter(pk=1).update(
            last_sequence=0, last_hash="", anchor_sequence=0, anchor_hash="", purge_through=0
        )
