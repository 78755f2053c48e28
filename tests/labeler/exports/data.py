"""Labelled images for the export tests, written straight to the tables."""

from __future__ import annotations

from collections.abc import Sequence

from labeler.annotations.models import Annotation, FinalLabel
from labeler.images.models import Image
from labeler.projects.models import Label, Project


def labels_of(project: Project, names: Sequence[str]) -> list[Label]:
    return list(project.labels.filter(name__in=names))


def annotate(image: Image, annotator: object, names: Sequence[str]) -> Annotation:
    """An annotator's labels for the image."""
    annotation = Annotation.objects.create(
        project=image.project, image=image, annotator=annotator, time_spent_ms=1200
    )
    annotation.labels.set(labels_of(image.project, names))
    return annotation


def finalise(
    image: Image,
    names: Sequence[str],
    *,
    method: str = "consensus",
    confidence: float | None = 1.0,
    decided_by: object = None,
) -> FinalLabel:
    """The image's final label (decided by a person with ``decided_by``)."""
    final = FinalLabel.objects.create(
        image=image, method=method, confidence=confidence, decided_by=decided_by
    )
    final.labels.set(labels_of(image.project, names))
    return final


def labelled_images(project: Project, images: Sequence[Image], names: Sequence[str]) -> None:
    """Give image i the final label names[i % len(names)] by consensus."""
    for index, image in enumerate(images):
        finalise(image, [names[index % len(names)]])


def uploaded(project: Project, files: dict[str, bytes]) -> list[Image]:
    """The files stored in the project as an upload stores them, in the order given."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeler import flows

    results = flows.images_ingest(
        project=project, files=[SimpleUploadedFile(name, data) for name, data in files.items()]
    )
    assert all(result.status == "created" for result in results), results
    return [Image.objects.get(pk=result.image_id) for result in results]
