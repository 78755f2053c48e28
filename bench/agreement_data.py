"""The synthetic project behind the agreement benchmark: generated ratings, loaded by COPY.

Every image has a true class drawn from uneven class frequencies; a few annotators, picked
in proportion to how much each works, label it. Each annotator has an accuracy between 72%
and 96% that improves a little over the weeks, and a wrong label is often the
neighbouring class (look-alike classes) and otherwise any other one. Images are released
evenly over the project's days and each rating follows its image's release by a few
hours, so an image's ratings land on different days. Annotators work at their own pace;
3% of ratings have no recorded time (as from older clients) and 1% of images carry a gold
label. The ratings are written straight into the real tables with PostgreSQL's COPY.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.projects.models import Label, Membership, Project, Role

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# Monday 6 January 2025, 00:00 UTC: day and week buckets start on round dates.
START = 1_736_121_600
PLACEHOLDER_FILE = "bench/placeholder.png"
NULL = r"\N"


@dataclass(frozen=True)
class Shape:
    """How big the synthetic project is and the seed that makes it reproducible."""

    n_images: int = 200_000
    per_image: int = 5
    n_annotators: int = 20
    n_labels: int = 10
    days: int = 112
    seed: int = 7
    gold_share: float = 0.01

    @property
    def n_annotations(self) -> int:
        return self.n_images * self.per_image

    @property
    def project_name(self) -> str:
        return (
            f"Agreement benchmark: {self.n_images} images x {self.per_image} of "
            f"{self.n_annotators} annotators, {self.n_labels} labels, {self.days} days, "
            f"seed {self.seed}"
        )


@dataclass(frozen=True)
class Synthetic:
    """Generated ratings: row i holds image i's ``per_image`` ratings (columns are slots)."""

    truth: IntArray  # per image, the true label index
    annotators: IntArray  # (n_images, per_image) annotator indexes, distinct within a row
    labels: IntArray  # (n_images, per_image) label indexes given
    rated_at: IntArray  # (n_images, per_image) unix seconds
    time_spent_ms: IntArray  # (n_images, per_image), -1 where not recorded
    accuracy: FloatArray  # per annotator, at the middle of the project
    gold: npt.NDArray[np.bool_]  # per image: whether it carries a gold label (its truth)


def synthetic_ratings(shape: Shape) -> Synthetic:
    """The ratings of a synthetic project of ``shape`` (the same seed, the same ratings)."""
    rng = np.random.default_rng(shape.seed)
    n, m, a, k = shape.n_images, shape.per_image, shape.n_annotators, shape.n_labels
    accuracy = rng.permutation(np.linspace(0.72, 0.96, a))
    activity = rng.uniform(0.5, 2.0, a)
    truth = rng.choice(k, size=n, p=rng.dirichlet(np.full(k, 3.0)))
    # The m largest of log(activity) + Gumbel noise: m distinct annotators per image, each
    # picked in proportion to their activity (sampling without replacement).
    keys = np.log(activity) + rng.gumbel(size=(n, a))
    annotators = np.argpartition(-keys, m - 1, axis=1)[:, :m].astype(np.int64)
    span = shape.days * 86_400
    released = START + rng.uniform(0, span * 0.97, n)
    rated_at = np.minimum(released[:, None] + rng.exponential(10 * 3600, (n, m)), START + span - 1)
    progress = (rated_at - START) / span
    chance_right = np.minimum(accuracy[annotators] + 0.06 * (progress - 0.5), 0.99)
    return Synthetic(
        truth=truth.astype(np.int64),
        annotators=annotators,
        labels=_noisy_labels(rng, truth, chance_right, k),
        rated_at=rated_at.astype(np.int64),
        time_spent_ms=_time_spent(rng, annotators, a),
        accuracy=accuracy,
        gold=rng.random(n) < shape.gold_share,
    )


def _noisy_labels(
    rng: np.random.Generator, truth: IntArray, chance_right: FloatArray, k: int
) -> IntArray:
    """The true label with probability ``chance_right``, else a look-alike or any other."""
    n, m = chance_right.shape
    true = truth[:, None]
    neighbour = (true + 1) % k
    other = (true + rng.integers(1, max(k, 2), (n, m))) % k
    wrong = np.where(rng.random((n, m)) < 0.5, neighbour, other)
    return np.where(rng.random((n, m)) < chance_right, true, wrong).astype(np.int64)


def _time_spent(rng: np.random.Generator, annotators: IntArray, a: int) -> IntArray:
    """Milliseconds per rating around each annotator's own pace; 3% not recorded."""
    pace = rng.lognormal(np.log(4_000), 0.35, a)
    spent = rng.lognormal(np.log(pace[annotators]), 0.6).clip(300, 600_000).astype(np.int64)
    return np.where(rng.random(spent.shape) < 0.03, -1, spent)


def bench_project(shape: Shape, *, rebuild: bool = False) -> tuple[Project, bool]:
    """The benchmark's project of ``shape``: reused when complete, else (re)loaded.

    Returns the project and whether it was loaded now.
    """
    project = Project.objects.filter(name=shape.project_name).order_by("id").first()
    if project is not None and not rebuild and _is_complete(project, shape):
        return project, False
    with transaction.atomic():
        _skip_foreign_key_checks()
        if project is not None:
            _project_delete(project)
        project = project_load(shape, synthetic_ratings(shape))
    return project, True


def _skip_foreign_key_checks() -> None:
    """Skip the (deferred) foreign key checks of this transaction, where allowed.

    The generated rows are consistent by construction, and checking a million of them at
    commit takes longer than loading them. Only a superuser may; others load with checks.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (superuser,) = cursor.fetchone()
        if superuser:
            cursor.execute("SET LOCAL session_replication_role = replica")


def _is_complete(project: Project, shape: Shape) -> bool:
    return (
        Annotation.objects.filter(project=project).count() == shape.n_annotations
        and Image.objects.filter(project=project).count() == shape.n_images
        and project.labels.count() == shape.n_labels
    )


@transaction.atomic
def project_load(shape: Shape, data: Synthetic) -> Project:
    """Create the project, its labels and annotators, and COPY in images and ratings."""
    project = Project.objects.create(name=shape.project_name, overlap=shape.per_image)
    labels = Label.objects.bulk_create(
        Label(
            project=project,
            name=f"class {i}",
            color=f"#{(i * 2_654_435_761) % 0xFFFFFF:06x}",
            hotkey=str((i + 1) % 10) if i < 10 else "",
            position=i,
        )
        for i in range(shape.n_labels)
    )
    users = _annotators(shape.n_annotators)
    Membership.objects.bulk_create(
        Membership(project=project, user=user, role=Role.ANNOTATOR) for user in users
    )
    label_ids = np.array([label.pk for label in labels], dtype=np.int64)
    user_ids = np.array([user.pk for user in users], dtype=np.int64)
    with connection.cursor() as cursor:
        image_ids = _copy_images(cursor, project, data)
        _copy_annotations(cursor, project, data, image_ids, user_ids[data.annotators], label_ids)
        _copy_gold(cursor, image_ids[data.gold], label_ids[data.truth[data.gold]])
    return project


def tables_vacuum() -> None:
    """VACUUM ANALYZE the tables the loader writes (outside a transaction)."""
    models: list[type[Model]] = [Image, Annotation, FinalLabel]
    models += [Annotation.labels.through, FinalLabel.labels.through]
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _annotators(n: int) -> list[User]:
    users = []
    for i in range(n):
        user, created = User.objects.get_or_create(username=f"bench-annotator-{i + 1:02d}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        users.append(user)
    return users


def _copy_images(cursor: CursorWrapper, project: Project, data: Synthetic) -> IntArray:
    n = len(data.truth)
    first = _reserve_ids(cursor, Image._meta.db_table, n)
    ids = np.arange(first, first + n, dtype=np.int64)
    released = _timestamps(data.rated_at.min(axis=1))
    names = [f"bench-{i:07d}.png" for i in range(n)]
    sha = [f"{i:064x}" for i in range(n)]
    per_image = str(data.annotators.shape[1])
    _copy(
        cursor,
        Image._meta.db_table,
        {
            "id": ids.astype(str).tolist(),
            "project_id": [str(project.pk)] * n,
            "file": [PLACEHOLDER_FILE] * n,
            "thumbnail": [""] * n,
            "original_name": names,
            "sha256": sha,
            "width": ["64"] * n,
            "height": ["64"] * n,
            "format": ["PNG"] * n,
            "size_bytes": ["1024"] * n,
            "priority": ["0"] * n,
            "annotation_count": [per_image] * n,
            "is_complete": ["t"] * n,
            "created_at": released,
        },
    )
    return ids


def _copy_annotations(
    cursor: CursorWrapper,
    project: Project,
    data: Synthetic,
    image_ids: IntArray,
    user_ids: IntArray,
    label_ids: IntArray,
) -> None:
    n, m = data.annotators.shape
    total = n * m
    first = _reserve_ids(cursor, Annotation._meta.db_table, total)
    ids = np.arange(first, first + total, dtype=np.int64).astype(str).tolist()
    spent = data.time_spent_ms.ravel()
    at = _timestamps(data.rated_at.ravel())
    _copy(
        cursor,
        Annotation._meta.db_table,
        {
            "id": ids,
            "project_id": [str(project.pk)] * total,
            "image_id": np.repeat(image_ids, m).astype(str).tolist(),
            "annotator_id": user_ids.ravel().astype(str).tolist(),
            "time_spent_ms": [NULL if v < 0 else str(v) for v in spent.tolist()],
            "suggestion_accepted": ["f"] * total,
            "created_at": at,
            "updated_at": at,
        },
    )
    _copy(
        cursor,
        Annotation.labels.through._meta.db_table,
        {"annotation_id": ids, "label_id": label_ids[data.labels.ravel()].astype(str).tolist()},
    )


def _copy_gold(cursor: CursorWrapper, image_ids: IntArray, label_ids: IntArray) -> None:
    n = len(image_ids)
    if n == 0:
        return
    first = _reserve_ids(cursor, FinalLabel._meta.db_table, n)
    ids = np.arange(first, first + n, dtype=np.int64).astype(str).tolist()
    now = _timestamps(np.full(n, START, dtype=np.int64))
    _copy(
        cursor,
        FinalLabel._meta.db_table,
        {
            "id": ids,
            "image_id": image_ids.astype(str).tolist(),
            "method": [str(FinalLabelMethod.GOLD)] * n,
            "confidence": ["1"] * n,
            "created_at": now,
            "updated_at": now,
        },
    )
    _copy(
        cursor,
        FinalLabel.labels.through._meta.db_table,
        {"finallabel_id": ids, "label_id": label_ids.astype(str).tolist()},
    )


def _reserve_ids(cursor: CursorWrapper, table: str, n: int) -> int:
    """Take n consecutive ids from the table's sequence; returns the first."""
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    cursor.execute("SELECT nextval(%s)", [sequence])
    (first,) = cursor.fetchone()
    cursor.execute("SELECT setval(%s, %s)", [sequence, first + n - 1])
    return int(first)


def _timestamps(seconds: IntArray) -> list[str]:
    """Unix seconds as PostgreSQL timestamptz text (UTC)."""
    text = seconds.astype("datetime64[s]").astype(str).tolist()
    return [value + "+00" for value in text]


def _copy(cursor: CursorWrapper, table: str, columns: dict[str, Sequence[str]]) -> None:
    """COPY the columns (equal-length lists of text values) into the table."""
    rows: Iterable[tuple[str, ...]] = zip(*columns.values(), strict=True)
    buffer = io.StringIO("".join("\t".join(row) + "\n" for row in rows))
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _project_delete(project: Project) -> None:
    """Delete the project and everything the loader wrote for it, in set-based statements."""
    annotations = "SELECT id FROM annotations_annotation WHERE project_id = %s"
    images = "SELECT id FROM images_image WHERE project_id = %s"
    finals = f"SELECT id FROM annotations_finallabel WHERE image_id IN ({images})"
    statements = [
        f"DELETE FROM annotations_annotation_labels WHERE annotation_id IN ({annotations})",
        f"DELETE FROM annotations_annotationrevision WHERE annotation_id IN ({annotations})",
        "DELETE FROM annotations_annotation WHERE project_id = %s",
        f"DELETE FROM annotations_finallabel_labels WHERE finallabel_id IN ({finals})",
        f"DELETE FROM annotations_finallabel WHERE image_id IN ({images})",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, [project.pk])
    project.delete()
