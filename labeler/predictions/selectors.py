"""Reads about predictions: the suggestion an annotator is shown for an image."""

from __future__ import annotations

from dataclasses import dataclass

from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.projects.models import Project

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Suggestion:
    """The current model's labels for an image, as shown pre-selected to an annotator."""

    model_version: int
    version: int
    label_ids: list[int]
    confidence: float
    probabilities: dict[int, float]


def current_model(project: Project) -> ModelVersion | None:
    """The model version that pre-labels the project's images now, if any."""
    return ModelVersion.objects.filter(project=project, is_current=True).first()


def suggestion_for(*, project: Project, image: Image) -> Suggestion | None:
    """The current model's suggestion for the image, or None when it has no prediction.

    Single-label: the most probable label, with its probability as the confidence.
    Multi-label: every label at or above its threshold (the model's tuned thresholds,
    else 0.5), with the least decisive of those yes/no calls as the confidence.
    """
    return suggestions_for(project=project, image_ids=[image.pk]).get(image.pk)


def suggestions_for(*, project: Project, image_ids: list[int]) -> dict[int, Suggestion]:
    """The current model's suggestion per image (as ``suggestion_for``), in three queries."""
    model = current_model(project)
    if model is None or not image_ids:
        return {}
    valid = set(project.labels.values_list("pk", flat=True))
    thresholds = model.metrics.get("thresholds") or {}
    suggestions: dict[int, Suggestion] = {}
    predictions = Prediction.objects.filter(model_version=model, image_id__in=image_ids)
    for image_id, stored in predictions.values_list("image_id", "probabilities"):
        probabilities = {
            int(key): float(value)
            for key, value in stored.items()
            if str(key).isascii() and str(key).isdigit() and int(key) in valid
        }
        if not probabilities:
            continue
        if project.multi_label:
            label_ids, confidence = _multi_label(probabilities, thresholds)
        else:
            best = max(probabilities, key=lambda label_id: probabilities[label_id])
            label_ids, confidence = [best], probabilities[best]
        suggestions[image_id] = Suggestion(
            model_version=model.pk,
            version=model.version,
            label_ids=label_ids,
            confidence=confidence,
            probabilities=probabilities,
        )
    return suggestions


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
