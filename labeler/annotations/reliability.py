"""How often annotators' labels matched final labels: their accuracy, for adaptive overlap."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from labeler.annotations.adaptive import accuracy_estimate
from labeler.annotations.models import Annotation

# How many of an annotator's latest labels of finally-labelled images are read.
HISTORY = 500


def annotator_accuracies(project_id: int, annotator_ids: Iterable[int]) -> Mapping[int, float]:
    """Each annotator's estimated accuracy in the project: how often their latest labels
    of images with a final label (consensus, adjudicated, gold, ...) matched it.

    Single-label projects compare the one label; multi-label ones the whole set.
    """
    accuracies = {}
    for annotator_id in set(annotator_ids):
        latest = (
            Annotation.objects.filter(
                project_id=project_id, annotator_id=annotator_id, image__final_label__isnull=False
            )
            .order_by("-id")
            .values_list("id", flat=True)[:HISTORY]
        )
        ids = list(latest)
        agreed = _agreeing(ids) if ids else 0
        accuracies[annotator_id] = accuracy_estimate(agreed, len(ids))
    return accuracies


def _agreeing(annotation_ids: list[int]) -> int:
    """How many of the annotations carry exactly their image's final labels."""
    given: dict[int, set[int]] = {}
    through = Annotation.labels.through.objects.filter(annotation_id__in=annotation_ids)
    for annotation_id, label_id in through.values_list("annotation_id", "label_id"):
        given.setdefault(annotation_id, set()).add(label_id)
    image_of: dict[int, int] = {}
    finals: dict[int, set[int]] = {}
    rows = Annotation.objects.filter(pk__in=annotation_ids).values_list(
        "id", "image_id", "image__final_label__labels"
    )
    for annotation_id, image_id, label_id in rows:
        image_of[annotation_id] = image_id
        if label_id is not None:
            finals.setdefault(image_id, set()).add(label_id)
    return sum(
        1
        for annotation_id, image_id in image_of.items()
        if given.get(annotation_id) and given.get(annotation_id) == finals.get(image_id)
    )


def image_votes(image_id: int) -> list[tuple[int, frozenset[int]]]:
    """The image's annotations: (annotator id, the label ids they gave), oldest first."""
    through = Annotation.labels.through.objects.filter(annotation__image_id=image_id)
    votes: dict[int, set[int]] = {}
    for annotator_id, label_id in through.order_by("annotation_id").values_list(
        "annotation__annotator_id", "label_id"
    ):
        votes.setdefault(annotator_id, set()).add(label_id)
    return [(annotator_id, frozenset(labels)) for annotator_id, labels in votes.items()]
