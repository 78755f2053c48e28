"""Writing the audit trail: ``audit_record`` (its one writer) and the retention purge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from labeler.audit.chain import canonical_details, entry_hash
from labeler.audit.context import bound_actor, bound_address
from labeler.audit.models import Action, AuditChain, AuditEntry

# The most ids of an action's images an entry lists (the count is always there).
IDS_KEPT = 1000

# Target of an entry: (type, id, text), e.g. ("export", 12, "export 12 (coco)").
Target = tuple[str, Any, str]


# The name of a project given by id: the projects layer registers its lookup when the
# apps are ready (``audit_project_names_use``); the trail imports no layer above it.
_project_name_of: Callable[[int], str] | None = None


def audit_project_names_use(lookup: Callable[[int], str]) -> None:
    """Name the function that gives a project's name from its id (the projects app's)."""
    global _project_name_of
    _project_name_of = lookup


def _project_fields(project: Any) -> tuple[int | None, str]:
    """The project's id and name, from a project or its id (its name then looked up)."""
    if project is None:
        return None, ""
    if hasattr(project, "pk"):
        return project.pk, str(getattr(project, "name", ""))
    if _project_name_of is None:
        raise RuntimeError("No project name lookup: the projects app is not ready.")
    return int(project), _project_name_of(int(project))


def _chain_locked() -> AuditChain:
    """The chain's head row, locked until the transaction ends (made on first use)."""
    AuditChain.objects.get_or_create(pk=1)
    return AuditChain.objects.select_for_update().get(pk=1)


def audit_record(
    *,
    action: str,
    actor: Any = None,
    project: Any = None,
    target: Target | None = None,
    details: dict[str, Any] | None = None,
    address: str | None = None,
    actor_name: str = "",
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction (or its own).

    ``actor`` defaults to the bound request's actor, whatever authenticated it, and
    ``address`` to its client address (``labeler.audit.context.bound_actor``);
    ``actor_name`` names an actor with no account (a failed login's username). ``project``
    is a project or its id (its name is then looked up: every entry with a project names
    it). Call it inside the change's transaction so the entry and the change are kept or
    undone together.
    """
    if action not in Action.values:
        raise ValueError(f"Unknown audit action: {action!r}")
    actor = actor if actor is not None else bound_actor()
    project_id, project_name = _project_fields(project)
    target_type, target_id, target_text = target or ("", "", "")
    with transaction.atomic():
        chain = _chain_locked()
        fields: dict[str, Any] = {
            "sequence": chain.last_sequence + 1,
            "at": timezone.now(),
            "actor_id": actor.pk if actor is not None else None,
            "actor_name": (actor.get_username() if actor is not None else actor_name)[:150],
            "address": (address if address is not None else bound_address())[:64],
            "action": action,
            "project_id": project_id,
            "project_name": project_name[:200],
            "target_type": target_type[:40],
            "target_id": str(target_id)[:64],
            "target_text": str(target_text)[:300],
            "details": canonical_details(details or {}),
        }
        digest = entry_hash(fields, chain.last_hash)
        entry = AuditEntry(**fields, prev_hash=chain.last_hash, hash=digest)
        entry.save()
        AuditChain.objects.filter(pk=1).update(last_sequence=entry.sequence, last_hash=digest)
    return entry


def audit_purge(*, now: Any = None) -> int:
    """Delete the entries older than ``LABELER_AUDIT_KEEP_DAYS`` (0 keeps all); returns how many.

    Only a prefix of the chain goes: the newest purged entry's sequence and hash become the
    anchor the first kept entry is checked against. The database triggers let these rows
    go only inside this transaction (PostgreSQL: ``SET LOCAL labeler.audit_purge``, the
    sequence purged through; SQLite: the chain row's ``purge_through``). The purge itself
    is recorded.
    """
    days = int(settings.LABELER_AUDIT_KEEP_DAYS)
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        _chain_locked()
        last_old = AuditEntry.objects.filter(at__lt=cutoff).order_by("-sequence").first()
        if last_old is None:
            return 0
        through = last_old.sequence
        deleted = _prefix_delete(through)
        AuditChain.objects.filter(pk=1).update(anchor_sequence=through, anchor_hash=last_old.hash)
        audit_record(
            action=Action.AUDIT_PURGED,
            actor_name="system",
            details={"deleted": deleted, "through_sequence": through, "keep_days": days},
        )
    return deleted


def _prefix_delete(through: int) -> int:
    """Delete the entries numbered up to ``through``, as the triggers allow (raw SQL: the
    ORM's delete is refused on purpose)."""
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('labeler.audit_purge', %s, true)", [str(through)])
        else:
            AuditChain.objects.filter(pk=1).update(purge_through=through)
        cursor.execute(f"DELETE FROM {table} WHERE sequence <= %s", [through])
        deleted = cursor.rowcount
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('labeler.audit_purge', '', true)")
        else:
            AuditChain.objects.filter(pk=1).update(purge_through=0)
    return deleted
