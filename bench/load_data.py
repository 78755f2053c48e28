"""The load benchmark's data: projects of many images loaded by COPY, users, resets.

Image rows go straight into ``images_image`` with PostgreSQL's COPY (a million in
seconds, where the ORM would take minutes) and share a few real JPEG files, stored under
the names the application gives uploads (``images/<project>/<sha[:2]>/<sha>.jpg``). Each
row carries its own made-up sha256, as the table's unique constraint requires. A
project is found by name and reused while its image count matches; a run leaves it as
it found it (``_reset_project``).

Models are imported inside the functions here: Django is set up by the caller, after it
has chosen the database.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LABELS = ["cat", "dog", "bird", "fish"]
FILES = 8  # distinct real JPEG files the image rows share
PASSWORD = "bench-load-password"  # throw-away accounts of a private database
COPY_CHUNK = 100_000
LEAD = "bench-load-lead"
IMPORT_PROJECT = "Load benchmark: REST import"


@dataclass(frozen=True)
class BenchProject:
    """A benchmark project as the load generator needs it."""

    id: int
    size: int
    labels: list[str]


def project_name(size: int) -> str:
    return f"Load benchmark: {size} images"


def annotator_name(number: int) -> str:
    return f"bench-load-annotator-{number:02d}"


def users_prepare(annotators: int) -> list[str]:
    """The lead and ``annotators`` annotator accounts, all with ``PASSWORD``; their names.

    One password hash serves every account (hashing costs a third of a second each).
    """
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User

    names = [LEAD, *(annotator_name(n + 1) for n in range(annotators))]
    User.objects.bulk_create([User(username=name) for name in names], ignore_conflicts=True)
    User.objects.filter(username__in=names).update(password=make_password(PASSWORD))
    User.objects.filter(username=LEAD).update(is_staff=False)
    return names[1:]


def project_prepare(size: int, *, overlap: int, annotators: Sequence[str], media: Path) -> Any:
    """The benchmark project of ``size`` images, reset, with the given members.

    Created (rows by COPY, then ANALYZE) unless a project of that name and size exists.
    """
    from labeler.images.models import Image
    from labeler.projects.models import Project

    name = project_name(size)
    found = Project.objects.filter(name=name).order_by("id").first()
    if found is not None and Image.objects.filter(project=found).count() != size:
        project_delete(found.pk)
        found = None
    project = found or _project_create(name, size, media)
    if found is not None:
        # The rows may outlive their files (another checkout, a cleaned var/): the files
        # are generated from the project's id, so write them again.
        media_files(project.pk, media)
    Project.objects.filter(pk=project.pk).update(overlap=overlap, **_project_settings())
    project.refresh_from_db()
    _members_add(project, annotators)
    _reset_project(project.pk)
    return project


def bench_project(project: Any) -> BenchProject:
    from labeler.images.models import Image

    labels = list(project.labels.order_by("position").values_list("name", flat=True))
    return BenchProject(project.pk, Image.objects.filter(project=project).count(), labels)


def _project_settings() -> dict[str, Any]:
    """Single label, no gold, random order and no retraining: the queue needs no model."""
    return {
        "multi_label": False,
        "gold_rate": 0.0,
        "active_learning": "random",
        "active_learning_random_share": 0.0,
        "retrain_after": 0,
    }


def _project_create(name: str, size: int, media: Path) -> Any:
    from django.db import connection, transaction

    from labeler.images.models import Image
    from labeler.projects.models import Label, Project

    started = time.perf_counter()
    with transaction.atomic():
        project = Project.objects.create(name=name, **_project_settings())
        Label.objects.bulk_create(
            Label(project=project, name=label, color="#3366cc", hotkey=str(i + 1), position=i)
            for i, label in enumerate(LABELS)
        )
        files = media_files(project.pk, media)
        with connection.cursor() as cursor:
            for start in range(0, size, COPY_CHUNK):
                _copy_images(cursor, project.pk, files, range(start, min(size, start + COPY_CHUNK)))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Image._meta.db_table}")
    print(f"created {name} in {time.perf_counter() - started:.1f} s", flush=True)
    return project


@dataclass(frozen=True)
class StoredFile:
    name: str  # the storage name, as in Image.file
    size: int
    width: int
    height: int


def media_files(project_id: int, media: Path, count: int = FILES) -> list[StoredFile]:
    """Write ``count`` small JPEGs where the application would store uploads of them."""
    import hashlib

    from PIL import Image as PILImage

    rng = random.Random(project_id)
    files = []
    for n in range(count):
        picture = PILImage.new("RGB", (320, 240), (n * 30 % 256, 120, 200 - n * 20))
        noise = PILImage.frombytes("RGB", (80, 60), rng.randbytes(80 * 60 * 3))
        picture.paste(noise.resize((160, 120)), (80, 60))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=85)
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        name = f"images/{project_id}/{sha[:2]}/{sha}.jpg"
        path = media / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files.append(StoredFile(name, len(data), 320, 240))
    return files


def _copy_images(cursor: Any, project_id: int, files: list[StoredFile], numbers: range) -> None:
    """COPY one chunk of image rows; row n uses file n mod FILES and a sha256 of its own."""
    columns = (
        "project_id, file, thumbnail, original_name, sha256, width, height, format, "
        "size_bytes, priority, annotation_count, is_complete, created_at"
    )
    rows = []
    for n in numbers:
        stored = files[n % len(files)]
        sha = f"{project_id:016x}{n:048x}"
        rows.append(
            f"{project_id}\t{stored.name}\t\tphoto_{n:07d}.jpg\t{sha}\t{stored.width}\t"
            f"{stored.height}\tJPEG\t{stored.size}\t0\t0\tf\tnow\n"
        )
    cursor.copy_expert(f"COPY images_image ({columns}) FROM STDIN", io.StringIO("".join(rows)))


def _members_add(project: Any, annotators: Sequence[str]) -> None:
    from django.contrib.auth.models import User

    from labeler.projects.models import Membership, Role

    users = User.objects.filter(username__in=[LEAD, *annotators])
    Membership.objects.bulk_create(
        [
            Membership(
                project=project,
                user=user,
                role=Role.LEAD if user.username == LEAD else Role.ANNOTATOR,
            )
            for user in users
        ],
        ignore_conflicts=True,
    )


def _reset_project(project_id: int) -> None:
    """Undo what a run changed in the project: the annotations (their label rows and
    revisions), leases, skips, final labels and review requests go, and images are open
    again.

    Maintained counters that the application may keep elsewhere belong here too.
    """
    from django.db import connection, transaction

    from labeler.agreement.models import ReviewRequest
    from labeler.annotations.models import Annotation, Assignment, FinalLabel, Skip
    from labeler.images.models import Image

    images = f"SELECT id FROM {Image._meta.db_table} WHERE project_id = %s"
    with transaction.atomic():
        for model in (Annotation, Assignment, Skip, ReviewRequest):
            mine = f"SELECT id FROM {model._meta.db_table} WHERE project_id = %s"
            rows_delete(model, mine, [project_id])
        rows_delete(
            FinalLabel,
            f"SELECT id FROM {FinalLabel._meta.db_table} WHERE image_id IN ({images})",
            [project_id],
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Image._meta.db_table} SET annotation_count = 0, is_complete = false "
                "WHERE project_id = %s AND (annotation_count > 0 OR is_complete)",
                [project_id],
            )


def tables_vacuum() -> None:
    """VACUUM ANALYZE the tables a level writes, as autovacuum would between bursts."""
    from django.db import connection

    from labeler.annotations.models import Annotation, Assignment, FinalLabel
    from labeler.images.models import Image

    tables = [model._meta.db_table for model in (Image, Annotation, Assignment, FinalLabel)]
    tables.append(Annotation.labels.through._meta.db_table)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


def rows_delete(model: Any, ids_sql: str, params: list[Any]) -> None:
    """DELETE the model's rows whose ids ``ids_sql`` selects, and their dependents first.

    Set-based, following the models' relations (cascading deletes, nulled references),
    so that a million rows go in a few statements and tables added later are covered.
    """
    from django.db import connection, models

    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        child, column = relation.related_model, relation.field.column
        child_ids = (
            f"SELECT {child._meta.pk.column} FROM {child._meta.db_table} "
            f"WHERE {column} IN ({ids_sql})"
        )
        if relation.on_delete is models.CASCADE:
            rows_delete(child, child_ids, params)
        elif relation.on_delete is models.SET_NULL:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {child._meta.db_table} SET {column} = NULL "
                    f"WHERE {column} IN ({ids_sql})",
                    params,
                )
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {model._meta.db_table} WHERE {model._meta.pk.column} IN ({ids_sql})",
            params,
        )


def project_delete(project_id: int) -> None:
    """Delete a project and everything of it, set-based (see ``rows_delete``)."""
    from django.db import transaction

    from labeler.projects.models import Project

    with transaction.atomic():
        rows_delete(Project, "SELECT %s", [project_id])


def import_project(annotators: Sequence[str], media: Path) -> Any:
    """A fresh, empty project for the REST import (the previous one and its files go)."""
    import shutil

    from labeler.projects.models import Label, Project

    for old in Project.objects.filter(name=IMPORT_PROJECT):
        project_delete(old.pk)
        for folder in ("images", "thumbnails"):
            shutil.rmtree(media / folder / str(old.pk), ignore_errors=True)
    project = Project.objects.create(name=IMPORT_PROJECT, **_project_settings())
    Label.objects.bulk_create(
        Label(project=project, name=label, color="#3366cc", position=i)
        for i, label in enumerate(LABELS)
    )
    _members_add(project, annotators)
    return project


def label_everything(project_id: int) -> int:
    """Give every image of the project a consensus final label, set-based; returns how many."""
    from django.db import connection, transaction

    from labeler.annotations.models import FinalLabel

    finals = FinalLabel._meta.db_table
    through = FinalLabel.labels.through._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {finals} (image_id, method, confidence, created_at, updated_at) "
            "SELECT id, 'consensus', 1.0, now(), now() FROM images_image WHERE project_id = %s",
            [project_id],
        )
        count = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {through} (finallabel_id, label_id) "
            "SELECT f.id, (SELECT l.id FROM projects_label l WHERE l.project_id = %s "
            "  ORDER BY l.position OFFSET f.image_id %% 3 LIMIT 1) "
            f"FROM {finals} f JOIN images_image i ON i.id = f.image_id WHERE i.project_id = %s",
            [project_id, project_id],
        )
    return count


def level_check(project_id: int, overlap: int) -> dict[str, int]:
    """After a level: annotations in the database, images labelled beyond overlap, and
    images whose maintained count differs from their annotations."""
    from django.db import connection

    per_image = (
        "SELECT image_id, count(*) AS n FROM annotations_annotation "
        "WHERE project_id = %s GROUP BY image_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum(n), 0), count(*) FILTER (WHERE n > %s) FROM ({per_image}) a",
            [overlap, project_id],
        )
        annotations, over = cursor.fetchone()
        cursor.execute(
            f"SELECT count(*) FROM images_image i LEFT JOIN ({per_image}) a ON a.image_id = i.id "
            "WHERE i.project_id = %s AND (i.annotation_count > 0 OR a.n IS NOT NULL) "
            "AND i.annotation_count <> coalesce(a.n, 0)",
            [project_id, project_id],
        )
        (mismatched,) = cursor.fetchone()
    return {"annotations": int(annotations), "over_db": over, "count_mismatches": mismatched}
