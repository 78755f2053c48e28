"""Time bulk actions over 100,000 labelled images on PostgreSQL, against a bare-SQL floor.

    .venv/bin/python bench/bulk.py               # or: make bench-bulk
    .venv/bin/python bench/bulk.py --size 100000 --actions priority relabel review
    .venv/bin/python bench/bulk.py --actions gold reserve delete   # delete runs last

DATABASE_URL picks the database (default: a dedicated ``bench_bulk`` database on the
local PostgreSQL server, created and migrated here). The project's image rows are loaded
by COPY (``bench/load_data.py``) and reused between runs; before each action every image
gets two annotators' labels and a consensus final label, set-based, so that "send back
for relabelling" has labels to withdraw. Each action is the service call a REST request
makes (``labeler.bulk.services``), run as the background job does: one transaction over
the whole selection. The reference is the floor of the same change, one bare SQL
``UPDATE`` of the images' priority, measured in the same run; the goal is a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_bulk"
MEDIA_ROOT = ROOT / "var" / "bench_bulk_media"
GOAL_SECONDS = 60.0
CHUNK = 5000
ACTIONS = {
    "priority": {"priority": 5},
    "relabel": {"annotators": ["bench-load-annotator-02"]},
    "review": {},
    "gold": {"gold": True},
    "reserve": {"annotators": ["bench-load-annotator-02"]},
    # Last whatever the order asked: the next run makes the project's rows again (COPY).
    "delete": {},
}


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    from bench.postgres import postgres_configure

    os.environ["MEDIA_ROOT"] = str(MEDIA_ROOT)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres_configure(options.database_url)
    from bench import load_data

    annotators = load_data.users_prepare(2)[1:]
    project = load_data.project_prepare(
        options.size, overlap=2, annotators=annotators, media=MEDIA_ROOT
    )
    from django.contrib.auth.models import User

    from labeler.projects.models import Membership

    for user in User.objects.filter(username__in=annotators):
        Membership.objects.get_or_create(project=project, user=user)
    floor = _bare_update(project.pk)
    rows = []
    for action in sorted(options.actions, key=lambda name: name == "delete"):
        _label(project.pk, annotators)
        seconds = _run(project, action)
        rows.append((action, seconds))
    _reset(project.pk)
    print()
    print(f"Bulk actions over {options.size:,} images (PostgreSQL, one transaction each)")
    print(f"{'action':<12} {'seconds':>8} {'images/s':>10} {'x floor':>8} {'goal 60 s':>10}")
    print(f"{'bare UPDATE':<12} {floor:8.2f} {options.size / floor:10,.0f} {1.0:8.1f} {'':>10}")
    for action, seconds in rows:
        verdict = "met" if seconds < GOAL_SECONDS else "MISSED"
        print(
            f"{action:<12} {seconds:8.2f} {options.size / seconds:10,.0f} "
            f"{seconds / floor:8.1f} {verdict:>10}"
        )
    return 0 if all(seconds < GOAL_SECONDS for _, seconds in rows) else 1


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time bulk actions over many images.")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument(
        "--actions", nargs="+", choices=list(ACTIONS), default=["priority", "relabel", "review"]
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        help=f"PostgreSQL URL (default: DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    return parser.parse_args(argv)


def _run(project: object, action: str) -> float:
    """One bulk action over every image of the project, as its background job runs it."""
    from django.contrib.auth.models import User
    from django.test.utils import override_settings

    from bench.load_data import LEAD
    from labeler.bulk.services import bulk_action
    from labeler.images.models import Image

    lead = User.objects.get(username=LEAD)
    ids = list(Image.objects.filter(project=project).values_list("pk", flat=True))
    started = time.perf_counter()
    with override_settings(LABELER_BULK_BACKGROUND_OVER=len(ids) + 1):
        record = bulk_action(
            project=project,  # type: ignore[arg-type]
            user=lead,
            action=action,
            selection={"ids": ids},
            params=ACTIONS[action],
        )
    seconds = time.perf_counter() - started
    print(
        f"{action}: {record.changed:,} of {record.total:,} changed in {seconds:.2f} s", flush=True
    )
    return seconds


def _bare_update(project_id: int) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE images_image SET priority = priority + 1 WHERE project_id = %s", [project_id]
        )
    return time.perf_counter() - started


def _reset(project_id: int) -> None:
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from labeler.images.models import Image

    images = "SELECT id FROM images_image WHERE project_id = %s"
    annotations = "SELECT id FROM annotations_annotation WHERE project_id = %s"
    finals = f"SELECT id FROM annotations_finallabel WHERE image_id IN ({images})"
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in (
            f"DELETE FROM annotations_annotation_labels WHERE annotation_id IN ({annotations})",
            f"DELETE FROM annotations_annotationrevision WHERE annotation_id IN ({annotations})",
            "DELETE FROM annotations_assignment WHERE project_id = %s",
            "DELETE FROM annotations_annotation WHERE project_id = %s",
            f"DELETE FROM annotations_finallabel_labels WHERE finallabel_id IN ({finals})",
            f"DELETE FROM annotations_finallabel WHERE id IN ({finals})",
        ):
            cursor.execute(sql, [project_id])
    bounds = Image.objects.filter(project_id=project_id).aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return  # deleted by the last action
    for start in range(bounds["low"], bounds["high"] + 1, CHUNK):  # see _label
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE images_image SET annotation_count = 0, is_complete = false "
                "WHERE project_id = %s AND id >= %s AND id < %s",
                [project_id, start, start + CHUNK],
            )
    with connection.cursor() as cursor:
        for table in (
            "agreement_reviewrequest",
            "annotations_imagereservation",
            "annotations_labelchange",
            "bulk_bulkaction",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE project_id = %s", [project_id])
        cursor.execute("UPDATE images_image SET priority = 0 WHERE project_id = %s", [project_id])


def _label(project_id: int, annotators: list[str]) -> None:
    """Every image labelled by both annotators, with a consensus final label (set-based)."""
    from django.db import connection, transaction
    from django.db.models import Max, Min

    from bench.load_data import label_everything
    from labeler.images.models import Image

    _reset(project_id)
    with transaction.atomic(), connection.cursor() as cursor:
        for name in annotators:
            cursor.execute(
                "INSERT INTO annotations_annotation (project_id, image_id, annotator_id, "
                "suggestion_accepted, created_at, updated_at) "
                "SELECT i.project_id, i.id, u.id, false, now(), now() FROM images_image i, "
                "auth_user u WHERE i.project_id = %s AND u.username = %s",
                [project_id, name],
            )
        cursor.execute(
            "INSERT INTO annotations_annotation_labels (annotation_id, label_id) "
            "SELECT a.id, (SELECT l.id FROM projects_label l WHERE l.project_id = %s "
            "ORDER BY l.position LIMIT 1) FROM annotations_annotation a WHERE a.project_id = %s",
            [project_id, project_id],
        )
    # In chunks of their own: the image counters' row trigger makes one long update of
    # many rows slow (each row updates one of eight counter rows, again and again).
    bounds = Image.objects.filter(project_id=project_id).aggregate(low=Min("pk"), high=Max("pk"))
    for start in range(bounds["low"], bounds["high"] + 1, CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE images_image SET annotation_count = 2, is_complete = true "
                "WHERE project_id = %s AND id >= %s AND id < %s",
                [project_id, start, start + CHUNK],
            )
    label_everything(project_id)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


if __name__ == "__main__":
    raise SystemExit(main())
