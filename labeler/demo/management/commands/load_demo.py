"""manage.py load_demo: the digits demo project, its users and simulated labels."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.demo.services import ADMIN, ANNOTATORS, DEMO_PASSWORD, LEAD, SIMULATED, demo_load


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
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="The address the server listens on, for the address printed (make run's HOST).",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT") or 8000),
            help="The port the server listens on, for the address printed (make run's PORT; "
            "else $PORT, else 8000).",
        )

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
        self.stdout.write(f"  admin:       {ADMIN}  (the Team page: accounts and invitations)")
        self.stdout.write(f"  lead:        {LEAD}  (the project's Members page invites people)")
        self.stdout.write(f"  annotators:  {', '.join(ANNOTATORS)}")
        self.stdout.write(f"  simulated:   {', '.join(SIMULATED)}")
        site = site_address(options["host"], options["port"])
        self.stdout.write(f"Open {site}/  (API docs: {site}/api/v1/docs/)")


def site_address(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server listening on ``host``:``port``."""
    if host in ("", "0.0.0.0", "::", "[::]"):  # every interface: this machine's is one
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"
