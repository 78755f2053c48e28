"""The rows an export is written from, read in a few streamed queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby

from labeler.annotations.models import Annotation, FinalLabel
from labeler.images.models import Image
from labeler.projects.models import Project

BATCH = 2000


@dataclass
class AnnotationRow:
    annotator: str
    labels: list[str]
    time_spent_ms: int | None
    created_at: str
    updated_at: str


@dataclass
class ImageRow:
    id: int
    file_name: str
    sha256: str
    width: int
    height: int
    annotations: list[AnnotationRow] = field(default_factory=list)
    final_labels: list[str] | None = None
    final_method: str | None = None
    final_confidence: float | None = None


def export_rows(project: Project) -> Iterator[ImageRow]:
    """Every image of the project with its annotations and final label, in id order.

    Images are read in batches, each batch's annotations and final labels in one
    query apiece, so memory stays bounded and the query count grows with batches only.
    """
    label_names = dict(project.labels.values_list("pk", "name"))
    last_id = 0
    while True:
        images = list(
            Image.objects.filter(project=project, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "original_name", "sha256", "width", "height")[:BATCH]
        )
        if not images:
            return
        last_id = images[-1][0]
        ids = [row[0] for row in images]
        annotations = _annotations_by_image(ids, label_names)
        finals = _finals_by_image(ids, label_names)
        for pk, name, sha, width, height in images:
            final = finals.get(pk)
            yield ImageRow(
                id=pk,
                file_name=name,
                sha256=sha,
                width=width,
                height=height,
                annotations=annotations.get(pk, []),
                final_labels=final[0] if final else None,
                final_method=final[1] if final else None,
                final_confidence=final[2] if final else None,
            )


def _annotations_by_image(
    image_ids: list[int], label_names: dict[int, str]
) -> dict[int, list[AnnotationRow]]:
    rows = (
        Annotation.objects.filter(image_id__in=image_ids)
        .order_by("image_id", "id")
        .values_list(
            "image_id",
            "id",
            "annotator__username",
            "time_spent_ms",
            "created_at",
            "updated_at",
            "labels__id",
        )
    )
    result: dict[int, list[AnnotationRow]] = {}
    for (image_id, _), group in groupby(rows, key=lambda r: (r[0], r[1])):
        items = list(group)
        first = items[0]
        result.setdefault(image_id, []).append(
            AnnotationRow(
                annotator=first[2],
                labels=sorted(label_names[r[6]] for r in items if r[6] is not None),
                time_spent_ms=first[3],
                created_at=first[4].isoformat(),
                updated_at=first[5].isoformat(),
            )
        )
    return result


def _finals_by_image(
    image_ids: list[int], label_names: dict[int, str]
) -> dict[int, tuple[list[str], str, float | None]]:
    rows = (
        FinalLabel.objects.filter(image_id__in=image_ids)
        .order_by("image_id")
        .values_list("image_id", "method", "confidence", "labels__id")
    )
    result: dict[int, tuple[list[str], str, float | None]] = {}
    for image_id, group in groupby(rows, key=lambda r: r[0]):
        items = list(group)
        names = sorted(label_names[r[3]] for r in items if r[3] is not None)
        result[image_id] = (names, items[0][1], items[0][2])
    return result
