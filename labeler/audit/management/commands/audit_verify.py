"""``manage.py audit_verify``: walk the audit chain and name the first broken entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from labeler.audit.selectors import audit_verify


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; exits non-zero at the first broken entry."

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = audit_verify()
        if not verdict.ok:
            raise CommandError(
                f"Audit chain broken at entry #{verdict.broken_sequence}: {verdict.reason} "
                f"({verdict.checked} entries before it hold)."
            )
        self.stdout.write(f"Audit chain holds: {verdict.checked} entries checked.")
