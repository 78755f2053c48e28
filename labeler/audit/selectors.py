"""Reading the audit trail: filtered entries, their rows for CSV/JSONL, and the chain's check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from labeler.audit.chain import HASHED_FIELDS, entry_hash, time_text
from labeler.audit.models import Action, AuditChain, AuditEntry
from labeler.dates_in import moment_read
from labeler.errors import ValidationFailed

ROW_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")


@dataclass(frozen=True)
class AuditFilter:
    """What a reader asked for; ``project_id`` set is a lead's view of one project."""

    project_id: int | None = None
    action: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_entries(criteria: AuditFilter) -> QuerySet[AuditEntry]:
    """The entries matching the filter, newest first."""
    entries = AuditEntry.objects.all()
    if criteria.project_id is not None:
        entries = entries.filter(project_id=criteria.project_id)
    if criteria.action:
        entries = entries.filter(action=criteria.action)
    if criteria.actor:
        entries = entries.filter(actor_name__iexact=criteria.actor)
    if criteria.since is not None:
        entries = entries.filter(at__gte=criteria.since)
    if criteria.until is not None:
        entries = entries.filter(at__lt=criteria.until)
    return entries.order_by("-sequence")


def entry_row(entry: AuditEntry) -> dict[str, Any]:
    """An entry as plain data (the API's and the files' shape)."""
    row = {name: getattr(entry, name) for name in ROW_FIELDS}
    row["at"] = time_text(entry.at)
    return row


def entry_csv_cells(entry: AuditEntry) -> list[Any]:
    """An entry's CSV cells, in ``ROW_FIELDS`` order (details as JSON text)."""
    row = entry_row(entry)
    row["details"] = json.dumps(row["details"], sort_keys=True, ensure_ascii=False)
    return [row[name] for name in ROW_FIELDS]


@dataclass(frozen=True)
class Verdict:
    """The chain's check: how many entries were walked and the first broken one, if any."""

    checked: int
    broken_sequence: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_sequence is None


def audit_verify() -> Verdict:
    """Walk the chain from the first kept entry and name the first entry that does not hold.

    Each entry must follow the one before (its sequence, its ``prev_hash``: the purge's
    anchor for the first kept one) and its hash must be the hash of its own fields; the
    last must be the chain's head, so entries cut from the end are found too.
    """
    chain = AuditChain.objects.filter(pk=1).first() or AuditChain()
    sequence, prev_hash, checked = chain.anchor_sequence, chain.anchor_hash, 0
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=2000):
        reason = _entry_fault(entry, sequence + 1, prev_hash)
        if reason:
            return Verdict(checked=checked, broken_sequence=entry.sequence, reason=reason)
        sequence, prev_hash, checked = entry.sequence, entry.hash, checked + 1
    if sequence != chain.last_sequence or prev_hash != chain.last_hash:
        return Verdict(
            checked=checked,
            broken_sequence=sequence + 1,
            reason=f"entries after #{sequence} are missing (the head is #{chain.last_sequence})",
        )
    return Verdict(checked=checked)


def _entry_fault(entry: AuditEntry, expected_sequence: int, prev_hash: str) -> str:
    """Why the entry breaks the chain, or ""."""
    if entry.sequence != expected_sequence:
        return f"expected entry #{expected_sequence} here, found #{entry.sequence}"
    if entry.prev_hash != prev_hash:
        return "its previous hash is not the hash of the entry before it"
    fields = {name: getattr(entry, name) for name in ROW_FIELDS[:-2]}
    if entry_hash(fields, entry.prev_hash) != entry.hash:
        return "its content does not match its hash (changed after it was written)"
    return ""


def audit_rows(entries: QuerySet[AuditEntry]) -> Iterator[AuditEntry]:
    """The entries one chunk at a time (exports stream them)."""
    return entries.iterator(chunk_size=2000)


FILTER_KEYS = ("action", "actor", "since", "until", "project")


def audit_filter_parse(
    query: Any, *, project_id: int | None, may_pick_project: bool, also: tuple[str, ...] = ()
) -> AuditFilter:
    """The filter a page's or the API's query string asks for; a bad value is a 400.

    ``project_id``: the one project a lead reads (fixed: ``project`` naming another is a
    400); ``may_pick_project``: an admin's whole-server view may narrow itself to a project
    with ``project``. ``also``: the keys the face reads itself (its pages, its files). Any
    other key is a 400 naming it and the known ones: a filter misspelt is never dropped
    into a wider answer.
    """
    known = (*FILTER_KEYS, *also)
    for key in query:
        if key not in known:
            raise ValidationFailed(
                f"Unknown filter {key[:40]!r}; the audit trail knows {', '.join(known)}.",
                field=key[:40],
            )
    action = (query.get("action") or "").strip()
    if action and action not in Action.values:
        raise ValidationFailed(
            f"Unknown action {action!r}; use one of {', '.join(Action.values)}.", field="action"
        )
    picked = _project_picked(query.get("project"))
    if picked is not None and may_pick_project:
        project_id = picked
    elif picked is not None and picked != project_id:
        raise ValidationFailed(
            f"This is project {project_id}'s audit trail: project cannot name project "
            f"{picked}; read that project's own trail.",
            field="project",
        )
    return AuditFilter(
        project_id=project_id,
        action=action,
        actor=(query.get("actor") or "").strip()[:150],
        since=_day_or_time(query.get("since"), field="since"),
        until=_day_or_time(query.get("until"), field="until", day_end=True),
    )


def _project_picked(raw: Any) -> int | None:
    """The project id ``project`` names, None when it is empty; not an id is a 400."""
    picked = (raw or "").strip()
    if not picked:
        return None
    if not (picked.isascii() and picked.isdigit()) or len(picked) > 18:
        raise ValidationFailed(
            f"project must be a project id, not {picked[:40]!r}.", field="project"
        )
    return int(picked)


def _day_or_time(raw: Any, *, field: str, day_end: bool = False) -> datetime | None:
    """A date (``2026-11-27``: its start, or for ``until`` its end) or an ISO date-time,
    read by ``labeler.dates_in`` (its years included)."""
    text = (raw or "").strip()
    if not text:
        return None
    zone = timezone.get_current_timezone()
    return moment_read(text, field=field, zone=zone, day_end=day_end)
