"""Machine labels: confident predictions a person confirms or corrects in bulk.

Confirmed ones become final labels (method machine) and leave the annotation queue,
except a ``machine_check_rate`` sample flagged ``spot_check`` that annotators still
label blind, which measures how often confirmed machine labels are wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labeler.agreement.final_writes import FinalLabelsWrite, final_labels_written
from labeler.annotations.models import FinalLabelMethod
from labeler.annotations.services import labels_resolve
from labeler.errors import Conflict, ValidationFailed
from labeler.images import queue_state
from labeler.predictions.models import MachineLabel, MachineLabelStatus, Prediction
from labeler.predictions.selectors import current_model, suggestions_for
from labeler.projects.models import Project

READ_BATCH = 2000


def machine_labels_send(
    *, project: Project, min_confidence: Any, label: Any = None, limit: Any = None
) -> int:
    """Turn the current model's confident predictions of unlabelled images into pending
    machine labels (most confident first); returns how many were created.

    ``label`` keeps only predictions suggesting that label; ``limit`` caps the count.
    """
    _check_fraction(min_confidence, "min_confidence")
    label_id = _check_label(project, label)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationFailed("'limit' must be a positive integer.", field="limit")
    model = current_model(project)
    if model is None:
        raise Conflict("The project has no current model yet: train one first.", field="model")
    candidates = (
        Prediction.objects.filter(
            model_version=model,
            confidence__gte=float(min_confidence),
            image__final_label__isnull=True,
            image__machine_label__isnull=True,
        )
        .order_by("-confidence", "image_id")
        .values_list("image_id", flat=True)
    )
    chosen: list[MachineLabel] = []
    ids = list(candidates)
    for start in range(0, len(ids), READ_BATCH):
        batch = ids[start : start + READ_BATCH]
        suggestions = suggestions_for(project=project, image_ids=batch)
        for image_id in batch:
            suggestion = suggestions.get(image_id)
            if suggestion is None or not suggestion.label_ids:
                continue
            if label_id is not None and label_id not in suggestion.label_ids:
                continue
            chosen.append(
                MachineLabel(
                    project=project,
                    image_id=image_id,
                    model_version=model,
                    label_ids=suggestion.label_ids,
                    confidence=suggestion.confidence,
                )
            )
        if limit is not None and len(chosen) >= limit:
            break
    chosen = chosen[:limit] if limit is not None else chosen
    created = MachineLabel.objects.bulk_create(chosen, ignore_conflicts=True)
    return len(created)


def _check_fraction(value: Any, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationFailed(f"'{field}' must be a number from 0 to 1.", field=field)


def _check_label(project: Project, label: Any) -> int | None:
    if label is None:
        return None
    if isinstance(label, bool) or not isinstance(label, int):
        raise ValidationFailed("'label' must be a label id.", field="label")
    if not project.labels.filter(pk=label).exists():
        raise ValidationFailed(f"Label {label} is not a label of this project.", field="label")
    return label


@transaction.atomic
def machine_labels_review(
    *,
    project: Project,
    reviewer: User,
    confirm: Any = (),
    correct: Any = (),
    rng: np.random.Generator | None = None,
) -> dict[str, int]:
    """Confirm and correct pending machine labels in one batch.

    Confirmed: final label method machine (a ``machine_check_rate`` sample of them
    stays in the annotation queue as spot checks). Corrected: final label adjudicated
    with the person's labels. Labels already reviewed are skipped, so a retried request
    changes nothing; an image that has no machine label here is refused.
    """
    confirm_ids = _image_ids(confirm, "confirm")
    corrections = _corrections(project, correct)
    both = set(confirm_ids) & set(corrections)
    if both:
        raise ValidationFailed(
            f"Images {sorted(both)} are both confirmed and corrected.", field="correct"
        )
    pending = _pending(project, [*confirm_ids, *corrections])
    models = {i: m.model_version_id for i, m in pending.items() if i in confirm_ids}
    if not pending:  # all reviewed already: a retried request changes nothing
        return {"confirmed": 0, "corrected": 0, "spot_checked": 0}
    with final_labels_written(
        project=project, image_ids=list(pending), changed_by=reviewer, model_versions=models
    ) as write:
        return _review(write, project, reviewer, pending, confirm_ids, corrections, rng)


def _review(
    write: FinalLabelsWrite,
    project: Project,
    reviewer: User,
    pending: dict[int, MachineLabel],
    confirm_ids: list[int],
    corrections: dict[int, list[Any]],
    rng: np.random.Generator | None,
) -> dict[str, int]:
    now = timezone.now()
    confirmed = [pending[i] for i in confirm_ids if i in pending]
    spot = _spot_check_sample(len(confirmed), project.machine_check_rate, rng)
    for machine_label, is_spot in zip(confirmed, spot, strict=True):
        write.set_one(
            machine_label.image_id,
            machine_label.label_ids,
            method=FinalLabelMethod.MACHINE,
            confidence=machine_label.confidence,
            decided_by=reviewer,
        )
        machine_label.status, machine_label.spot_check = MachineLabelStatus.CONFIRMED, is_spot
    corrected = [pending[i] for i in corrections if i in pending]
    for machine_label in corrected:
        write.set_one(
            machine_label.image_id,
            corrections[machine_label.image_id],
            method=FinalLabelMethod.ADJUDICATED,
            confidence=1.0,
            decided_by=reviewer,
        )
        machine_label.status = MachineLabelStatus.CORRECTED
    for machine_label in (*confirmed, *corrected):
        machine_label.reviewed_by, machine_label.reviewed_at = reviewer, now
    MachineLabel.objects.bulk_update(
        [*confirmed, *corrected], ["status", "spot_check", "reviewed_by", "reviewed_at"]
    )
    leaving = [m.image_id for m, s in zip(confirmed, spot, strict=True) if not s]
    queue_state.images_complete_mark(image_ids=[*leaving, *(m.image_id for m in corrected)])
    return {"confirmed": len(confirmed), "corrected": len(corrected), "spot_checked": sum(spot)}


def _image_ids(raw: Any, field: str) -> list[int]:
    if not isinstance(raw, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in raw
    ):
        raise ValidationFailed(f"'{field}' must be a list of image ids.", field=field)
    if len(set(raw)) != len(raw):
        raise ValidationFailed(f"'{field}' names an image twice.", field=field)
    return list(raw)


def _corrections(project: Project, raw: Any) -> dict[int, list[Any]]:
    if not isinstance(raw, list | tuple) or not all(
        isinstance(item, dict) and set(item) == {"image", "labels"} for item in raw
    ):
        raise ValidationFailed(
            '\'correct\' must be a list of {"image": id, "labels": [ids]}.', field="correct"
        )
    ids = _image_ids([item["image"] for item in raw], "correct")
    return {
        image_id: labels_resolve(project=project, raw_labels=item["labels"])
        for image_id, item in zip(ids, raw, strict=True)
    }


def _pending(project: Project, image_ids: list[int]) -> dict[int, MachineLabel]:
    labels = MachineLabel.objects.select_for_update().filter(
        project=project, image_id__in=image_ids
    )
    found = {m.image_id: m for m in labels}
    unknown = sorted(set(image_ids) - set(found))
    if unknown:
        raise ValidationFailed(
            f"Images {unknown} have no machine label in this project.", field="confirm"
        )
    return {i: m for i, m in found.items() if m.status == MachineLabelStatus.PENDING}


def _spot_check_sample(n: int, rate: float, rng: np.random.Generator | None) -> list[bool]:
    """Which of n confirmed labels are spot checks: rate * n of them, rounded at random."""
    rng = rng or np.random.default_rng()
    k = min(n, int(np.floor(rate * n + rng.random())))
    flags = np.zeros(n, dtype=bool)
    flags[rng.choice(n, size=k, replace=False)] = True
    return [bool(flag) for flag in flags]
