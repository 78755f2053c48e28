"""Model versions that learnt from images since erased: counted on the version, so the
Models page and the model card say it is due a retraining."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection

from django.db.models import F

from labeler.annotations.models import FinalLabel
from labeler.predictions.models import ModelVersion, VersionTestOutputs
from labeler.projects.models import Project


def versions_trained_on(*, project: Project, image_ids: Collection[int]) -> dict[int, int]:
    """{version id: how many of the images it may have learnt from}: an image counts for a
    version made after the image's final label was (training reads final labels), or one
    whose validation or test images list it. Read before the images are deleted; it errs
    towards counting (a final label made while a training ran counts for its version)."""
    wanted = set(image_ids)
    labelled = dict(
        FinalLabel.objects.filter(image__project=project, image_id__in=wanted).values_list(
            "image_id", "created_at"
        )
    )
    tested = {
        version_id: set(ids) & wanted
        for version_id, ids in VersionTestOutputs.objects.filter(
            model_version__project=project
        ).values_list("model_version_id", "image_ids")
    }
    counts: Counter[int] = Counter()
    for version_id, created_at, validation in ModelVersion.objects.filter(
        project=project
    ).values_list("pk", "created_at", "validation_image_ids"):
        learnt = {image for image, labelled_at in labelled.items() if labelled_at < created_at}
        learnt |= set(validation or ()) & wanted
        learnt |= tested.get(version_id, set())
        if learnt:
            counts[version_id] = len(learnt)
    return dict(counts)


def versions_mark_erased(*, counts: dict[int, int], now: dt.datetime) -> None:
    """Add each version's erased images to its count (``versions_trained_on``)."""
    for version_id, count in counts.items():
        ModelVersion.objects.filter(pk=version_id).update(
            trained_on_erased=F("trained_on_erased") + count, erased_at=now
        )
