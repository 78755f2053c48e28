"""Time what keeping final labels current costs their readers, on a large project.

    .venv/bin/python bench/final_labels.py                      # PostgreSQL (DATABASE_URL)
    .venv/bin/python bench/final_labels.py --sqlite var/bench.sqlite3

The project is the agreement benchmark's synthetic one (``bench.agreement_data``), by
default 100,000 images labelled by 3 annotators each, with one label change per
annotation as the submit leaves them. Timed: the first refresh (it writes every final
label), the check a reader makes while nothing changed, the refresh a reader runs after
a new label, and a person's decision (which keeps the final labels current).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from unittest import mock

from bench.timing import timed

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_agreement"


def main(argv: list[str] | None = None) -> int:
    """Load the project where it is missing, then time each step and print the table."""
    options = _options(argv)
    _configure(options)
    # Models can be imported only once Django is set up, just above.
    from bench.agreement_data import Shape

    shape = Shape(n_images=options.images, per_image=options.per_image)
    project = _project(shape)
    for name, seconds, note in _steps(project, options.repeat):
        print(f"{name:<44} {seconds * 1000:>10.1f} ms  {note}")
    return 0


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time reading current final labels.")
    parser.add_argument("--images", type=int, default=100_000, help="images (default 100000)")
    parser.add_argument("--per-image", type=int, default=3, help="annotators per image (3)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timed step (median)")
    parser.add_argument("--sqlite", help="a SQLite file to use instead of PostgreSQL")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        help=f"PostgreSQL URL (default: DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    return parser.parse_args(argv)


def _configure(options: argparse.Namespace) -> None:
    if not options.sqlite:
        from bench.postgres import postgres_configure

        postgres_configure(options.database_url)
        return
    import django
    from django.core.management import call_command

    os.environ["DATABASE_URL"] = f"sqlite:///{Path(options.sqlite).resolve()}"
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    django.setup()
    call_command("migrate", verbosity=0)


def _project(shape: Any) -> Any:
    """The synthetic project, with a label change per annotation (loaded once, then reused)."""
    from django.db import connection

    from bench.agreement_data import bench_project, tables_vacuum
    from bench.final_labels_sqlite import sqlite_project
    from labeler.annotations.models import LabelChange

    if connection.vendor == "postgresql":
        project, loaded = bench_project(shape)
    else:
        project, loaded = sqlite_project(shape)
    if not LabelChange.objects.filter(project=project).exists():
        _history_write(project)
        loaded = True
    if loaded and connection.vendor == "postgresql":
        tables_vacuum()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE annotations_labelchange")
    return project


def _history_write(project: Any) -> None:
    """One ``annotation_created`` change per annotation, as the submit's trigger writes it."""
    from django.db import connection, transaction

    labels = (
        "jsonb_build_array(l.label_id)"
        if connection.vendor == "postgresql"
        else ("json_array(l.label_id)")
    )
    empty = "'[]'::jsonb" if connection.vendor == "postgresql" else "'[]'"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotations_labelchange (project_id, image_id, kind, method, "
            "annotator_id, changed_by_id, annotation_id, from_label_ids, to_label_ids, "
            f"created_at) SELECT a.project_id, a.image_id, 'annotation_created', '', "
            f"a.annotator_id, a.annotator_id, a.id, {empty}, {labels}, a.created_at "
            "FROM annotations_annotation a "
            "JOIN annotations_annotation_labels l ON l.annotation_id = a.id "
            "WHERE a.project_id = %s ORDER BY a.id",
            [project.pk],
        )


def _steps(project: Any, repeat: int) -> list[tuple[str, float, str]]:
    from django.contrib.auth.models import User

    from labeler.agreement.final_labels import final_labels_current, label_changes
    from labeler.agreement.models import ConsensusWatermark
    from labeler.agreement.services import image_decide
    from labeler.annotations.models import FinalLabel, LabelChange
    from labeler.images.models import Image

    ConsensusWatermark.objects.filter(project=project).delete()
    FinalLabel.objects.filter(image__project=project, method="consensus").delete()
    first, _ = timed(lambda: final_labels_current(project=project), 1)
    finals = FinalLabel.objects.filter(image__project=project).count()
    changes = label_changes(project)
    check, refreshed = timed(lambda: final_labels_current(project=project), repeat * 4)
    assert refreshed is False

    def after_a_new_label() -> bool:
        newest = LabelChange.objects.filter(project=project).order_by("-id").first()
        assert newest is not None
        newest.pk = None
        newest.save()  # a label came in
        return final_labels_current(project=project)

    refresh, _ = timed(after_a_new_label, repeat)
    lead, _ = User.objects.get_or_create(username="bench-lead")
    images = iter(Image.objects.filter(project=project).order_by("id")[: repeat * 2])

    def decide() -> Any:
        image = next(images)
        return image_decide(
            project=project, image_id=image.pk, labels=[project.labels.first().pk],
            decided_by=lead, method="adjudicated",
        )  # fmt: skip

    # Without the background refresh a decision schedules: it is what readers do without.
    with mock.patch("labeler.agreement.final_writes.labels_changed"):
        decision, _ = timed(decide, repeat)
    still_current = not final_labels_current(project=project)
    return [
        ("first refresh (writes every final label)", first, f"{finals:,} final labels"),
        ("check, nothing changed", check, f"{changes.count:,} label changes counted"),
        ("refresh after a new label", refresh, "the check, the lock, consensus, writes"),
        ("a person's decision", decision, f"final labels still current: {still_current}"),
    ]
