"""The agreement benchmark's synthetic project in SQLite (the embedded default).

``bench.agreement_data`` loads it into PostgreSQL with COPY; SQLite has none, so here the
same ratings go in with ``executemany``, in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.db import connection, transaction

from bench.agreement_data import (
    PLACEHOLDER_FILE,
    Shape,
    _annotators,
    _is_complete,
    synthetic_ratings,
)
from labeler.projects.models import Label, Membership, Project, Role


def sqlite_project(shape: Shape) -> tuple[Project, bool]:
    """The project of ``shape``: reused when complete, else loaded; and whether it was loaded."""
    project = Project.objects.filter(name=shape.project_name).order_by("id").first()
    if project is not None and _is_complete(project, shape):
        return project, False
    if project is not None:
        project.delete()
    return _load(shape), True


@transaction.atomic
def _load(shape: Shape) -> Project:
    data = synthetic_ratings(shape)
    project = Project.objects.create(name=shape.project_name, overlap=shape.per_image)
    labels = Label.objects.bulk_create(
        Label(project=project, name=f"class {i}", color="#123456", position=i)
        for i in range(shape.n_labels)
    )
    users = _annotators(shape.n_annotators)
    Membership.objects.bulk_create(
        Membership(project=project, user=user, role=Role.ANNOTATOR) for user in users
    )
    label_ids = [label.pk for label in labels]
    user_ids = [user.pk for user in users]
    with connection.cursor() as cursor:
        image_ids = _images(cursor, project, data)
        _annotations(cursor, project, data, image_ids, user_ids, label_ids)
    return project


def _images(cursor: Any, project: Project, data: Any) -> list[int]:
    per_image = data.annotators.shape[1]
    released = data.rated_at.min(axis=1)
    cursor.executemany(
        "INSERT INTO images_image (project_id, file, thumbnail, original_name, sha256, width, "
        "height, format, size_bytes, priority, annotation_count, is_complete, created_at) "
        "VALUES (%s, %s, '', %s, %s, 64, 64, 'PNG', 1024, 0, %s, 1, %s)",
        [
            (project.pk, PLACEHOLDER_FILE, f"bench-{i:07d}.png", f"{i:064x}", per_image, when)
            for i, when in enumerate(_when(seconds) for seconds in released)
        ],
    )
    cursor.execute("SELECT id FROM images_image WHERE project_id = %s ORDER BY id", [project.pk])
    return [row[0] for row in cursor.fetchall()]


def _annotations(
    cursor: Any,
    project: Project,
    data: Any,
    image_ids: list[int],
    user_ids: list[int],
    label_ids: list[int],
) -> None:
    n, m = data.annotators.shape
    rows = [
        (project.pk, image_ids[i], user_ids[data.annotators[i, j]], _when(data.rated_at[i, j]))
        for i in range(n)
        for j in range(m)
    ]
    cursor.executemany(
        "INSERT INTO annotations_annotation (project_id, image_id, annotator_id, "
        "suggestion_accepted, created_at, updated_at) VALUES (%s, %s, %s, 0, %s, %s)",
        [(*row, row[-1]) for row in rows],
    )
    cursor.execute(
        "SELECT id FROM annotations_annotation WHERE project_id = %s ORDER BY id", [project.pk]
    )
    ids = [row[0] for row in cursor.fetchall()]
    labels = np.asarray(label_ids)[data.labels.ravel()].tolist()
    cursor.executemany(
        "INSERT INTO annotations_annotation_labels (annotation_id, label_id) VALUES (%s, %s)",
        list(zip(ids, labels, strict=True)),
    )


def _when(seconds: Any) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).isoformat(sep=" ")
