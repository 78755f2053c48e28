"""manage.py images_find_duplicates: hash images stored before perceptual hashes were
kept, or hashed by an older version of the hashing, and compute every project's
near-duplicate groups again, at once (the background does the same after an upgrade,
``labeler.images.duplicates.hash_upgrade``; run this after a change of the server's distance)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.images.duplicates.groups import project_duplicates_regroup
from labeler.images.duplicates.hash_upgrade import images_hash_backfill
from labeler.images.models import Image
from labeler.projects.models import Project


class Command(BaseCommand):
    help = (
        "Give a perceptual hash to the stored images that have a thumbnail and no hash yet, "
        "or a hash of an older version of the hashing (hashed from the thumbnail, no decode "
        "of the original), then compute each project's near-duplicate groups again from "
        "all its hashes. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", type=int, metavar="ID", help="This project only.")
        parser.add_argument(
            "--distance",
            type=int,
            metavar="BITS",
            help="Most bits two near-duplicates' hashes differ in (default: each project's "
            "duplicate_distance, or LABELER_DUPLICATE_DISTANCE where it has none).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        projects = Project.objects.order_by("pk")
        if options["project"] is not None:
            projects = projects.filter(pk=options["project"])
            if not projects.exists():
                raise CommandError(f"Project {options['project']} does not exist.")
        distance = options["distance"]
        if distance is not None and not 0 <= distance <= 16:
            raise CommandError("--distance is a number of bits from 0 to 16.")
        for project in projects:
            hashed = images_hash_backfill(images=Image.objects.filter(project=project))
            found = project_duplicates_regroup(project=project, max_distance=distance)
            self.stdout.write(
                f"Project {project.pk}: {hashed} images hashed now, {found.hashed} hashed in "
                f"all; {found.groups} near-duplicate groups holding {found.grouped} images "
                f"({found.changed} images changed group)."
            )
