"""manage.py images_read_exif: capture time, camera and position for images stored before
they were read at ingest."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.images.catalogue.backfill import images_exif_backfill
from labeler.images.models import Image
from labeler.projects.models import Project


class Command(BaseCommand):
    help = (
        "Read the EXIF of stored images that have no capture time, camera nor GPS position "
        "yet (stored before these were read at upload) and record what it says. Safe to "
        "run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, metavar="ID", help="This project only.")

    def handle(self, *args: Any, **options: Any) -> None:
        images = Image.objects.all()
        if options["project"] is not None:
            if not Project.objects.filter(pk=options["project"]).exists():
                raise CommandError(f"Project {options['project']} does not exist.")
            images = images.filter(project_id=options["project"])
        done = images_exif_backfill(images=images)
        self.stdout.write(
            f"{done.read} images read, {done.filled} given a capture time, camera or "
            f"position, {done.missing} whose file is missing."
        )
