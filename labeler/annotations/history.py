"""The history of images' labels: final label changes and withdrawn annotations.

Annotators' submits are logged by a database trigger on their revisions (see migration
0005); everything that writes final labels runs inside ``final_labels_tracked``, which
compares the final labels before and after and keeps one row per image that changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from labeler.annotations.models import (
    Annotation,
    FinalLabel,
    LabelChange,
    LabelChangeKind,
)
from labeler.projects.models import Project


@dataclass(frozen=True)
class Final:
    """A final label as stored: how it was decided and its label ids, sorted."""

    method: str
    label_ids: tuple[int, ...]


def final_labels_of(project: Project, image_ids: Collection[int] | None) -> dict[int, Final]:
    """The final labels of the project's images (all of them when ``image_ids`` is None)."""
    finals = FinalLabel.objects.filter(image__project=project)
    through = FinalLabel.labels.through.objects.filter(finallabel__image__project=project)
    if image_ids is not None:
        finals = finals.filter(image_id__in=image_ids)
        through = through.filter(finallabel__image_id__in=image_ids)
    labels: dict[int, list[int]] = {}
    for image_id, label_id in through.values_list("finallabel__image_id", "label_id"):
        labels.setdefault(image_id, []).append(label_id)
    return {
        image_id: Final(method, tuple(sorted(labels.get(image_id, []))))
        for image_id, method in finals.values_list("image_id", "method")
    }


@contextmanager
def final_labels_tracked(
    *,
    project: Project,
    image_ids: Collection[int] | None = None,
    changed_by: User | None = None,
    model_versions: Mapping[int, int] | None = None,
) -> Iterator[None]:
    """Keep the history of the final labels the block changes, as ``changed_by`` did them.

    ``image_ids`` bounds what the block may change (None: any image of the project);
    ``model_versions`` names the model whose labels an image's final label took.
    Must run in a transaction: the project's final-label writers take turns until it
    ends, so no other writer's change falls between the two reads and is taken for
    this block's (a lead deciding while consensus is refreshed).
    """
    final_labels_lock(project.pk)
    before = final_labels_of(project, image_ids)
    yield
    after = final_labels_of(project, image_ids)
    now = timezone.now()
    changes = []
    for image_id in sorted(before.keys() | after.keys()):
        old, new = before.get(image_id), after.get(image_id)
        if old == new:
            continue
        changes.append(
            LabelChange(
                project=project,
                image_id=image_id,
                kind=LabelChangeKind.FINAL_SET if new else LabelChangeKind.FINAL_CLEARED,
                method=(new or old).method,  # type: ignore[union-attr]
                changed_by=changed_by,
                model_version_id=(model_versions or {}).get(image_id) if new else None,
                from_label_ids=list(old.label_ids) if old else [],
                to_label_ids=list(new.label_ids) if new else [],
                created_at=now,
            )
        )
    LabelChange.objects.bulk_create(changes)


def final_labels_lock(project_id: int) -> None:
    """Hold the project's final-label lock until the transaction ends (PostgreSQL; SQLite
    lets one writer in at a time anyway)."""
    assert connection.in_atomic_block, "final labels are written in a transaction"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"labeler.final_labels.{project_id}"],
            )


def annotation_withdrawn_record(*, annotation: Annotation, label_ids: list[int]) -> None:
    """Keep an annotation its annotator took back: the labels it had, now none."""
    LabelChange.objects.create(
        project_id=annotation.project_id,
        image_id=annotation.image_id,
        kind=LabelChangeKind.ANNOTATION_WITHDRAWN,
        annotator_id=annotation.annotator_id,
        changed_by_id=annotation.annotator_id,
        annotation_id=annotation.pk,
        from_label_ids=sorted(label_ids),
        to_label_ids=[],
        created_at=timezone.now(),
    )
