"""manage.py load_demo: the digits demo project, its users and simulated labels."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.demo.services import ANNOTATORS, DEMO_PASSWORD, LEAD, SIMULATED, demo_load


class Command(BaseCommand):
    help = "Create the demo project from scikit-learn's handwritten digits (once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=int, default=600, help="How many digits (max 1797).")
        parser.add_argument(
            "--simulate",
            type=float,
            default=0.3,
            help="Share of images labelled by simulated annotators of different reliability.",
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 <= options["simulate"] <= 1:
            raise CommandError("--simulate must be between 0 and 1.")
        if options["images"] < 1:
            raise CommandError("--images must be at least 1.")
        summary = demo_load(
            n_images=options["images"],
            simulate_fraction=options["simulate"],
            seed=options["seed"],
        )
        verb = "Created" if summary.created else "Found"
        self.stdout.write(
            f"{verb} demo project {summary.project.name!r} (id {summary.project.pk}): "
            f"{summary.images} images, {summary.simulated_annotations} simulated annotations, "
            f"{summary.gold_images} gold images."
        )
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(f"  lead:        {LEAD}")
        self.stdout.write(f"  annotators:  {', '.join(ANNOTATORS)}")
        self.stdout.write(f"  simulated:   {', '.join(SIMULATED)}")
        self.stdout.write(
            "Open http://127.0.0.1:8000/  (API docs: http://127.0.0.1:8000/api/v1/docs/)"
        )
