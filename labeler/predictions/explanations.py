"""Why a model version chose a label for an image: its heat map, made once and kept.

A request names an image, and optionally a version (default: the current one) and a
label (default: the version's most probable label for the image). The heat map is made
by the worker (``Task.EXPLANATION_RENDER`` on the "gpu" queue; in a child process on the
embedded default) and kept in storage beside the image (``images.delivery.explanation_files``),
with the version's probabilities for the image from the same forward pass; a later
request finds it there and nothing is computed again.

Who may see one is the blind-labelling rule's to say (``annotations.blind
.model_explanations_shown``): leads, reviewers and admins, never an annotator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.utils import timezone

from labeler import cache_keys, jobs
from labeler.annotations.blind import model_explanations_shown
from labeler.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from labeler.images.delivery.explanation_files import (
    explanation_failure_name,
    explanation_outputs_name,
    explanation_overlay_name,
)
from labeler.images.delivery.stored_whole import store_whole
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import current_model, model_versions_of
from labeler.projects.models import Project
from labeler.projects.selectors import AnyUser
from labeler.task_names import Task

# How long a request waits for the worker before it may send the work again (a worker
# that died mid-way), and how long a failure is answered before it is tried again.
PENDING_SECONDS = 120
FAILED_SECONDS = 600
# What a 202 tells the caller to wait before asking again.
POLL_SECONDS = 1


@dataclass(frozen=True)
class ExplanationState:
    """Where a heat map stands: ``overlay`` is its stored name once it is made."""

    version: ModelVersion
    image_id: int
    label_id: int | None  # None while the top label is not known yet
    probability: float | None
    overlay: str | None  # None: the worker is making it

    @property
    def ready(self) -> bool:
        """Whether the overlay is in storage."""
        return self.overlay is not None


def explanation_request(
    *,
    project: Project,
    user: AnyUser,
    role: str | None,
    image_id: int,
    version_number: int | None = None,
    label_id: int | None = None,
) -> ExplanationState:
    """The heat map of ``label_id`` (None: the top label) by version ``version_number``
    (None: the current one) for the image: ready, or sent to the worker (once) now.

    Raises PermissionDenied for an annotator, NotFound for an image, version or label the
    project lacks, Conflict when no version is current or the worker could not make it.
    """
    if not model_explanations_shown(user=user, role=role):
        raise PermissionDenied(
            "Only the project's leads, reviewers and admins see why the model chose a label."
        )
    image = Image.objects.filter(pk=image_id, project=project).values_list("file", flat=True)
    image_file = image.first()
    if image_file is None:
        raise NotFound(f"Image {image_id} is not in this project.")
    version = _version(project, version_number)
    _label_check(project, version, label_id)
    probabilities = _probabilities(version, image_id, image_file)
    if probabilities and label_id is None:
        label_id = max(probabilities, key=lambda key: probabilities[key])
    probability = probabilities.get(label_id) if label_id is not None else None
    if label_id is not None and probabilities:
        name = explanation_overlay_name(
            project_id=project.pk, image_file=image_file, version_id=version.pk, label_id=label_id
        )
        if default_storage.exists(name):
            return ExplanationState(version, image_id, label_id, probability, name)
    failed = _failure(version, image_file, label_id)  # as sent: the top label, or this one
    if failed:
        raise Conflict(f"The heat map could not be made: {failed}")
    _send(version.pk, image_id, label_id)
    return ExplanationState(version, image_id, label_id, probability, None)


def explanation_store(
    *,
    version: ModelVersion,
    image_file: str,
    label_id: int,
    overlay_png: bytes,
    probabilities: dict[int, float],
) -> str:
    """Keep a heat map's overlay and the version's probabilities for the image (each
    written whole: no reader sees half of one); returns the overlay's stored name. The
    probabilities go first, so an overlay found always has them beside it."""
    project_id = version.project_id
    outputs = explanation_outputs_name(
        project_id=project_id, image_file=image_file, version_id=version.pk
    )
    body = {"probabilities": {str(key): float(p) for key, p in probabilities.items()}}
    store_whole(outputs, json.dumps(body, sort_keys=True).encode())
    name = explanation_overlay_name(
        project_id=project_id, image_file=image_file, version_id=version.pk, label_id=label_id
    )
    return store_whole(name, overlay_png)


def explanation_failure_store(
    *, version: ModelVersion, image_file: str, label_id: int | None, reason: str
) -> None:
    """Keep why the worker could not make a heat map: requests are told so for
    ``FAILED_SECONDS``, then it is tried again. Kept in storage, which every process
    shares (the worker may be a child process with its own cache)."""
    name = explanation_failure_name(
        project_id=version.project_id,
        image_file=image_file,
        version_id=version.pk,
        label_id=label_id,
    )
    store_whole(name, (reason[:500] or "unknown").encode())


def explanation_settled(*, version_id: int, image_id: int, label_id: int | None) -> None:
    """The worker is done with a heat map (made or not): a request may send it again."""
    cache.delete(cache_keys.explanation_pending(version_id, image_id, label_id))


def _failure(version: ModelVersion, image_file: str, label_id: int | None) -> str:
    """Why the worker could not make this heat map lately; "" when it did not fail (or
    failed long enough ago to try again, and the note is dropped)."""
    name = explanation_failure_name(
        project_id=version.project_id,
        image_file=image_file,
        version_id=version.pk,
        label_id=label_id,
    )
    if not default_storage.exists(name):
        return ""
    if default_storage.get_modified_time(name) < timezone.now() - timedelta(seconds=FAILED_SECONDS):
        default_storage.delete(name)
        return ""
    with default_storage.open(name, "rb") as handle:
        return handle.read().decode(errors="replace")


def _version(project: Project, number: int | None) -> ModelVersion:
    if number is None:
        version = current_model(project)
        if version is None:
            raise Conflict("No model version is current in this project: train and promote one.")
        return version
    found = model_versions_of(project).filter(version=number).first()
    if found is None:
        raise NotFound(f"Model version {number} does not exist in this project.")
    return found


def _label_check(project: Project, version: ModelVersion, label_id: int | None) -> None:
    if label_id is None:
        return
    if not project.labels.filter(pk=label_id).exists():
        raise NotFound(f"Label {label_id} is not a label of this project.")
    trained = (version.metrics.get("confusion") or {}).get("labels")
    if trained is not None and label_id not in trained:
        raise ValidationFailed(
            f"Version {version.version} was trained without label {label_id}: it has no "
            "output to explain for it.",
            field="label",
        )


def _probabilities(version: ModelVersion, image_id: int, image_file: str) -> dict[int, float]:
    """The version's probabilities for the image: its stored prediction, else those kept
    beside a heat map; empty when neither is there yet."""
    stored = (
        Prediction.objects.filter(model_version=version, image_id=image_id)
        .values_list("probabilities", flat=True)
        .first()
    )
    if not stored:
        name = explanation_outputs_name(
            project_id=version.project_id, image_file=image_file, version_id=version.pk
        )
        if not default_storage.exists(name):
            return {}
        with default_storage.open(name, "rb") as handle:
            stored = json.loads(handle.read()).get("probabilities") or {}
    return {int(key): float(p) for key, p in stored.items() if str(key).isdigit()}


def _send(version_id: int, image_id: int, label_id: int | None) -> None:
    """Send the work to the worker unless it was sent a moment ago."""
    key = cache_keys.explanation_pending(version_id, image_id, label_id)
    if cache.add(key, 1, PENDING_SECONDS):
        jobs.enqueue(Task.EXPLANATION_RENDER, version_id, image_id, label_id)
