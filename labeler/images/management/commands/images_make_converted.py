"""manage.py images_make_converted: converted copies for images prepared before they were kept."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.images.catalogue.backfill import images_converted_backfill
from labeler.images.models import Image
from labeler.projects.models import Project


class Command(BaseCommand):
    help = (
        "Make the converted copy (JPEG or PNG) the exports take of every HEIC, AVIF and GIF "
        "image prepared without one, all at once (beat makes them a few at a time). Safe to "
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
        done = images_converted_backfill(images=images)
        self.stdout.write(
            f"{done.read} images read, {done.filled} given a converted copy, {done.failed} "
            f"that cannot be converted, {done.missing} whose file is missing."
        )
