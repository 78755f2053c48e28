"""Which model version pre-labels a project: the automatic decision and the switch."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labeler import jobs
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project

PRELABEL_TASK = "worker.tasks.prelabel_dispatch"


def promotion_decide(
    *, project: Project, metrics: dict[str, Any], baseline: dict[str, Any] | None
) -> tuple[bool, str]:
    """Whether a newly trained model should replace the current one, and why (a note).

    ``baseline`` holds both models' figures on the new model's validation images that
    the current one was not trained on (``images`` of them; ``candidate_macro_f1`` is
    the new model's there). The new model is promoted when there is no current model,
    when the two could not be compared (``baseline`` None: other labels, or no image the
    current model had not seen), or when its macro-F1 there is at least the current one's.
    """
    current = ModelVersion.objects.filter(project=project, is_current=True).first()
    if current is None:
        return True, "Promoted: the project had no current model."
    if baseline is None or baseline.get("macro_f1") is None:
        if baseline is not None and baseline.get("seen"):
            reason = "it was trained on every one of these validation images"
        else:
            reason = "it could not be measured on the same validation images (its labels differ)"
        return True, f"Promoted: v{current.version} was not compared: {reason}."
    old_f1 = float(baseline["macro_f1"])
    new_f1 = float(baseline.get("candidate_macro_f1", metrics.get("macro_f1")) or 0.0)
    images = baseline.get("images", metrics.get("images", "the"))
    comparison = f"macro-F1 {new_f1:.3f} vs {old_f1:.3f} of v{current.version} on {images}"
    where = "validation images"
    if baseline.get("seen"):
        where += f" it was not trained on ({baseline['seen']} it was trained on left out)"
    if new_f1 >= old_f1:
        return True, f"Promoted: {comparison} {where}."
    return False, f"Not promoted: {comparison} {where}."


@transaction.atomic
def model_version_promote(
    *, model_version: ModelVersion, promoted_by: User | None = None, note: str = ""
) -> ModelVersion:
    """Make the version the project's current model and start its pre-label pass on commit.

    Promoting the current version again changes nothing.
    """
    # The project row's lock orders concurrent promotions of one project.
    Project.objects.select_for_update().filter(pk=model_version.project_id).first()
    version = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if version.is_current:
        return version
    ModelVersion.objects.filter(project_id=version.project_id, is_current=True).update(
        is_current=False
    )
    version.is_current = True
    version.promoted_at = timezone.now()
    version.promoted_by = promoted_by
    version.promotion_note = note or (
        f"Promoted by {promoted_by.get_username()}." if promoted_by else "Promoted."
    )
    version.save(update_fields=["is_current", "promoted_at", "promoted_by", "promotion_note"])
    jobs.enqueue(PRELABEL_TASK, version.pk)
    return version
