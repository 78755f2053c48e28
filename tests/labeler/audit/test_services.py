"""The audit trail's chain: written in order, append-only in the ORM and the database,
checked by audit_verify (which names a tampered entry), purged from the oldest end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from labeler.audit.models import Action, AppendOnly, AuditChain, AuditEntry
from labeler.audit.selectors import audit_verify
from labeler.audit.services import audit_purge, audit_record

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def _three(user):
    return [
        audit_record(action=Action.LOGIN, actor=user, address="10.0.0.1"),
        audit_record(action=Action.ROLE_SET, actor=user, details={"before": None, "after": "lead"}),
        audit_record(action=Action.LOGOUT, actor=user),
    ]


def test_entries_are_numbered_and_chained(lead):
    first, second, third = _three(lead)
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert first.prev_hash == "" and second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert first.actor_id == lead.pk and first.actor_name == "lead"
    assert first.address == "10.0.0.1"
    assert AuditChain.objects.get(pk=1).last_hash == third.hash
    verdict = audit_verify()
    assert verdict.ok and verdict.checked == 3


def test_unknown_action_is_refused(lead):
    with pytest.raises(ValueError):
        audit_record(action="nonsense", actor=lead)


def test_orm_refuses_updates_and_deletes(lead):
    entry = _three(lead)[0]
    entry.action = Action.LOGOUT
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(address="x")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET address = 'forged'",
        "DELETE FROM audit_auditentry",
    ],
)
def test_database_refuses_raw_updates_and_deletes(lead, statement):
    _three(lead)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEntry.objects.count() == 3


def test_database_refuses_truncate_on_postgres(lead, needs_postgres):
    _three(lead)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditentry")


def _tamper(sequence: int) -> None:
    """Change an entry behind the triggers' back, as someone who can drop them could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only")
            cursor.execute(
                "UPDATE audit_auditentry SET address = 'forged' WHERE sequence = %s", [sequence]
            )
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_append_only")
        else:
            cursor.execute("DROP TRIGGER audit_entry_no_update")
            cursor.execute(
                "UPDATE audit_auditentry SET address = 'forged' WHERE sequence = %s", [sequence]
            )


def test_verify_names_the_tampered_entry(lead):
    _three(lead)
    _tamper(2)
    verdict = audit_verify()
    assert not verdict.ok
    assert verdict.broken_sequence == 2
    assert "content" in verdict.reason
    with pytest.raises(CommandError, match="#2"):
        call_command("audit_verify")


def test_verify_command_reports_a_sound_chain(lead, capsys):
    _three(lead)
    call_command("audit_verify")
    assert "3 entries checked" in capsys.readouterr().out


def test_purge_deletes_only_old_entries_and_the_chain_still_holds(lead, settings):
    settings.LABELER_AUDIT_KEEP_DAYS = 30
    _three(lead)
    later = timezone.now() + timedelta(days=31)
    newer = audit_record(action=Action.LOGIN, actor=lead)
    # Entries 1-4 are older than 30 days, seen from 31 days on; one more is written "then".
    assert audit_purge(now=later) == 4
    kept = list(AuditEntry.objects.order_by("sequence"))
    assert [e.action for e in kept] == [Action.AUDIT_PURGED]
    chain = AuditChain.objects.get(pk=1)
    assert chain.anchor_sequence == 4 and chain.anchor_hash == newer.hash
    assert kept[0].details["deleted"] == 4
    assert audit_verify().ok
    # The flag is down again: deletes are refused after the purge.
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry")


def test_purge_keeps_recent_entries(lead, settings):
    settings.LABELER_AUDIT_KEEP_DAYS = 30
    _three(lead)
    assert audit_purge() == 0
    assert AuditEntry.objects.count() == 3


def test_keep_days_zero_keeps_everything(lead, settings):
    settings.LABELER_AUDIT_KEEP_DAYS = 0
    _three(lead)
    assert audit_purge(now=timezone.now() + timedelta(days=9999)) == 0


def test_purge_runs_hourly_from_beat(settings):
    from labeler.task_names import Task

    assert any(e["task"] == Task.AUDIT_PURGE for e in settings.CELERY_BEAT_SCHEDULE.values())
