"""Reads about the model: the suggestion an annotator is shown, runs, versions, machine labels."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.utils.crypto import salted_hmac

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.predictions.dataset import training_set, training_split
from labeler.predictions.models import (
    MachineLabel,
    MachineLabelStatus,
    ModelVersion,
    Prediction,
    TrainingRun,
    VersionTestOutputs,
)
from labeler.predictions.test_outputs import TestOutputs, outputs_read
from labeler.predictions.test_split import split_sides
from labeler.predictions.training_choice import training_input_sizes
from labeler.predictions.training_config import AUTO, training_config_clean
from labeler.projects.models import Project
from labeler.raw_rows import raw_first

DEFAULT_THRESHOLD = 0.5
# How many images the median image side is taken over: enough to tell photos from
# thumbnails-sized images, few enough to read in one short indexed query.
SIDE_SAMPLE = 101


@dataclass(frozen=True)
class Suggestion:
    """The current model's labels for an image, as shown pre-selected to an annotator."""

    model_version: int
    version: int
    label_ids: list[int]
    confidence: float
    probabilities: dict[int, float]


def current_model(project: Project) -> ModelVersion | None:
    """The model version that pre-labels the project's images now, if any.

    A project read for a request (``project_get_visible``) knows its current model's id:
    without one, no query is needed.
    """
    if getattr(project, "current_model_id", 0) is None:
        return None
    # A fixed statement: the ORM's, ordered by the versions' default ordering, joins the
    # projects table and costs several times the row's read (every prediction asks).
    return raw_first(ModelVersion, _current_statement(connection.vendor), [project.pk])


@functools.cache
def _current_statement(vendor: str) -> str:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    table = connection.ops.quote_name(ModelVersion._meta.db_table)
    # At most one current version a project (the model_version_one_current constraint).
    return f"SELECT * FROM {table} WHERE project_id = %s AND is_current"


def model_input_specs(project: Project) -> set[tuple[int, bool]]:
    """The (image_size, grayscale) inputs the project's models take.

    Its training config's, for the next model (both sizes a config left to the worker
    may train at: ``training_input_sizes``), and its current model's.
    """
    config = training_config_clean(project.training)
    side = image_side_median(project)[0] if config["architecture"] == AUTO else None
    grayscale = bool(config["grayscale"])
    specs = {(size, grayscale) for size in training_input_sizes(config, side)}
    current = (
        ModelVersion.objects.filter(project=project, is_current=True)
        .values_list("run__config", flat=True)
        .first()
    )
    if isinstance(current, dict) and "image_size" in current:
        specs.add((int(current["image_size"]), bool(current.get("grayscale", False))))
    return specs


def image_side_median(project: Project) -> tuple[int | None, int]:
    """The median shorter side of the project's images, and how many it was taken over.

    A sample of ``SIDE_SAMPLE`` images, drawn by content hash (the unique index on project
    and sha256 reads them in order, and hashes are spread evenly), so it costs the same
    on a project of a million images. (None, 0) without images.
    """
    rows = Image.objects.filter(project=project).order_by("sha256")
    sides = sorted(min(w, h) for w, h in rows.values_list("width", "height")[:SIDE_SAMPLE])
    if not sides:
        return None, 0
    return sides[len(sides) // 2], len(sides)


def suggestion_for(*, project: Project, image: Image) -> Suggestion | None:
    """The current model's suggestion for the image, or None when it has no prediction.

    Single-label: the most probable label, with its probability as the confidence.
    Multi-label: every label at or above its threshold (the model's tuned thresholds,
    else 0.5), with the least decisive of those yes/no calls as the confidence.
    """
    return suggestions_for(project=project, image_ids=[image.pk]).get(image.pk)


def suggestion_withheld(*, project: Project, image_id: int, annotator_id: int) -> bool:
    """Whether the queue holds the model's suggestion back from this annotator on this image.

    A share ``project.suggestion_holdback`` of (image, annotator) pairs, drawn by a hash
    keyed with the site's secret: the same pair always gets the same answer, and nobody
    without the secret can tell which pairs are drawn. Images shown without a suggestion
    then include ordinary ones, so spot checks do not stand out, and agreement with and
    without a suggestion can be compared.
    """
    share = project.suggestion_holdback
    if share <= 0:
        return False
    key = f"{project.pk}:{image_id}:{annotator_id}"
    digest = salted_hmac("labeler.suggestion_holdback", key, algorithm="sha256").digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# What the labelling page says where a suggestion is held back on purpose. One line for
# both reasons (the holdback share, a spot check of a confirmed machine label): told apart,
# spot checks would stand out, which the holdback is there to prevent.
SUGGESTION_HELD_BACK = (
    "No suggestion shown: some images are labelled without one, so that people's labels "
    "can be checked against the model's."
)


def suggestion_held_back_notes(
    *,
    project: Project,
    image_ids: list[int],
    suggestions: dict[int, Suggestion],
    withheld: set[int],
) -> dict[int, str]:
    """Per image: why the annotator sees no suggestion on it, or "" when nothing is held
    back; one query at most, for a single image or a grid page.

    ``suggestions`` are the current model's (``suggestions_for``) and ``withheld`` the ids
    whose suggestion the holdback draws (``suggestion_withheld``). A spot-checked image has
    no suggestion at all; it gets the same note as a held-back one where the model has a
    prediction for it.
    """
    notes = {
        i: SUGGESTION_HELD_BACK if i in withheld else "" for i in image_ids if i in suggestions
    }
    missing = [i for i in image_ids if i not in suggestions]
    model = current_model(project) if missing else None
    spot_checked: set[int] = set()
    if model is not None:
        # Held back from a spot check only where the model would have suggested something.
        spot_checked = set(
            Prediction.objects.filter(
                model_version=model, image_id__in=missing, image__machine_label__spot_check=True
            ).values_list("image_id", flat=True)
        )
    notes.update({i: SUGGESTION_HELD_BACK if i in spot_checked else "" for i in missing})
    return notes


def suggestions_for(*, project: Project, image_ids: list[int]) -> dict[int, Suggestion]:
    """The current model's suggestion per image (as ``suggestion_for``), in three queries."""
    model = current_model(project)
    if model is None or not image_ids:
        return {}
    valid = set(project.labels.values_list("pk", flat=True))
    thresholds = model.metrics.get("thresholds") or {}
    suggestions: dict[int, Suggestion] = {}
    # A confirmed machine label kept as a spot check is labelled blind: no suggestion.
    predictions = Prediction.objects.filter(model_version=model, image_id__in=image_ids).exclude(
        image__machine_label__spot_check=True
    )
    for image_id, stored in predictions.values_list("image_id", "probabilities"):
        probabilities = {
            int(key): float(value)
            for key, value in stored.items()
            if str(key).isascii() and str(key).isdigit() and int(key) in valid
        }
        if not probabilities:
            continue
        label_ids, confidence = suggested_labels(
            probabilities, multi_label=project.multi_label, thresholds=thresholds
        )
        suggestions[image_id] = Suggestion(
            model_version=model.pk,
            version=model.version,
            label_ids=label_ids,
            confidence=confidence,
            probabilities=probabilities,
        )
    return suggestions


def suggested_labels(
    probabilities: dict[int, float], *, multi_label: bool, thresholds: dict[str, float]
) -> tuple[list[int], float]:
    """The labels a prediction suggests and the confidence, as ``suggestion_for`` explains."""
    if multi_label:
        return _multi_label(probabilities, thresholds)
    best = max(probabilities, key=lambda label_id: probabilities[label_id])
    return [best], probabilities[best]


def _multi_label(
    probabilities: dict[int, float], thresholds: dict[str, float]
) -> tuple[list[int], float]:
    chosen = [
        label_id
        for label_id, p in probabilities.items()
        if p >= float(thresholds.get(str(label_id), DEFAULT_THRESHOLD))
    ]
    confidence = min(max(p, 1 - p) for p in probabilities.values())
    return sorted(chosen), confidence


def training_runs_of(project: Project) -> QuerySet[TrainingRun]:
    """The project's training runs, newest first."""
    return (
        TrainingRun.objects.filter(project=project)
        .select_related("requested_by", "model_version")
        .order_by("-id")
    )


def model_versions_of(project: Project) -> QuerySet[ModelVersion]:
    """The project's trained model versions, newest first."""
    return (
        ModelVersion.objects.filter(project=project)
        .select_related("promoted_by")
        .order_by("-version")
    )


def machine_label_stats(*, project: Project) -> dict[str, Any]:
    """Counts per status, and how many spot checks annotators labelled and agreed with.

    A spot check counts as checked once an annotator labelled its image, and as agreed
    when every annotation of the image carries exactly the machine's labels.
    """
    counts = dict.fromkeys(MachineLabelStatus.values, 0)
    rows = MachineLabel.objects.filter(project=project).values("status").annotate(n=Count("id"))
    for row in rows.order_by():
        counts[row["status"]] = row["n"]
    spot = MachineLabel.objects.filter(project=project, spot_check=True)
    machine = {m.image_id: sorted(m.label_ids) for m in spot.only("image_id", "label_ids")}
    given: dict[int, list[list[int]]] = {}
    annotations = Annotation.objects.filter(image_id__in=list(machine)).prefetch_related("labels")
    for annotation in annotations:
        labels = sorted(label.pk for label in annotation.labels.all())
        given.setdefault(annotation.image_id, []).append(labels)
    agreed = sum(all(g == machine[i] for g in labels) for i, labels in given.items())
    return {**counts, "spot_checks": {"checked": len(given), "agreed": agreed}}


def project_splits(project: Project) -> dict[int, str]:
    """Each final-labelled image's part, "train", "validation" or "test", exactly as the
    next training would use them (its training configuration's validation share and seed).

    A read: images not yet assigned a side of the test split get the side that
    ``labeler.predictions.test_split.test_split_assign`` would store for them now, which
    the next training (or that service, called first) then stores for good. A development
    image whose near-duplicate is a test image is left out (the training leaves it out).
    """
    data = training_set(project)
    config = training_config_clean(project.training)
    split = training_split(
        data,
        share=config["validation_share"],
        seed=config["seed"],
        multi_label=project.multi_label,
        sides=split_sides(project, data),
    )
    return split.sides(data)


def version_test_outputs(version: ModelVersion) -> TestOutputs | None:
    """The version's probabilities on its test images and the labels they were scored
    against then; None when it was not scored on a test set (trained before the project
    had one, or with no test image yet)."""
    row = VersionTestOutputs.objects.filter(model_version=version).first()
    return None if row is None else outputs_read(row)
