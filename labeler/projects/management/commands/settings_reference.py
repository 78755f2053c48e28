"""manage.py settings_reference: the project settings reference, from the declarations."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from labeler.projects.settings_reference import settings_reference_markdown


class Command(BaseCommand):
    help = (
        "Print the reference of every project setting (type, default, values, settings "
        "page input, what follows a change) as Markdown; the docs' settings page is its output."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(settings_reference_markdown(), ending="")
