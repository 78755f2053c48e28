"""manage.py images_render_previews: display copies for images stored before they were made."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from labeler.images import services
from labeler.images.models import Image
from labeler.projects.models import Project


class Command(BaseCommand):
    help = (
        "Render the thumbnail and display copy again of every image that is shown as it is "
        "but now gets a copy: larger than LABELER_DISPLAY_SIZE, with a GPS position or of a "
        "format browsers do not show (stored before display copies were made, or before the "
        "size was lowered). On a thread a core; safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, metavar="ID", help="This project only.")
        parser.add_argument(
            "--threads", type=int, default=os.cpu_count() or 1, help="Renders at once."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        images = Image.objects.all()
        if options["project"] is not None:
            if not Project.objects.filter(pk=options["project"]).exists():
                raise CommandError(f"Project {options['project']} does not exist.")
            images = images.filter(project_id=options["project"])
        if options["threads"] < 1:
            raise CommandError("--threads must be at least 1.")
        ids = list(services.images_needing_display(images).values_list("pk", flat=True))
        with ThreadPoolExecutor(options["threads"]) as pool:
            list(pool.map(_render, ids))
        done = Image.objects.filter(pk__in=ids).exclude(display="").count()
        self.stdout.write(f"{len(ids)} images rendered again, {done} now with a display copy.")


def _render(image_id: int) -> None:
    try:
        # No model inputs asked for: those are kept as they were, or made when a model
        # first needs them.
        services.image_prepare(image_id=image_id, input_specs=(), again=True)
    finally:
        connections.close_all()  # this thread's
