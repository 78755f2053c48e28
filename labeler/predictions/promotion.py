"""Which model version pre-labels a project: the automatic decision and the switch."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from scipy.stats import binomtest

from labeler import jobs
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.task_names import Task

# A lower macro-F1 counts as worse only when the images the current model alone gets
# right outnumber those the new one alone gets right by more than chance explains
# (one-sided exact McNemar test at this level).
WORSE_P_VALUE = 0.05
# Two versions differ by more than chance on the same validation images when an exact
# two-sided McNemar test on the images only one of them gets right says so at this level;
# above it the validation set is too small to tell them apart.
APART_P_VALUE = 0.05


def promotion_decide(
    *,
    project: Project,
    metrics: dict[str, Any],
    baseline: dict[str, Any] | None,
    label_count: int | None = None,
) -> tuple[bool, str]:
    """Whether a newly trained model should replace the current one, and why (a note).

    ``baseline`` holds both models' figures on the new model's validation images that
    the current one was not trained on (``images`` of them; ``candidate_macro_f1`` is
    the new model's there). The new model is promoted when there is no current model,
    when the two could not be compared (``baseline`` None: other labels, or no image the
    current model had not seen), or when it is not worse there: its macro-F1 is at least
    the current one's, or lower by no more than chance. On a few dozen validation images
    one image flips macro-F1 by several points, and a model trained on more labels was
    otherwise refused run after run over a gap no larger than that. Chance is judged on
    the images only one of the two models gets right (``only_current_right`` and
    ``only_candidate_right``): an exact one-sided McNemar test, worse below p = 0.05.

    A retraining on as many final labels as the current model's (``label_count``) that gets
    the same figures, right on exactly the same images, is not a new model: nothing
    changed, and the current one stays. When the new one is promoted on a gap an exact
    two-sided McNemar test cannot tell from chance, the note says the validation set is too
    small to tell the two apart.
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
    if _unchanged(baseline, new_f1, old_f1) and label_count == current.label_count:
        return False, (
            f"Nothing changed: no new labels since v{current.version}, and the same figures "
            f"({comparison} {where}), right on the same images; v{current.version} stays current."
        )
    if new_f1 >= old_f1:
        apart = _apart_p_value(baseline)
        if apart is not None and apart >= APART_P_VALUE:
            return True, (
                f"Promoted: {comparison} {where}; the validation set is too small to tell "
                f"the two apart (v{current.version} alone right on "
                f"{int(baseline['only_current_right'])}, this one alone on "
                f"{int(baseline.get('only_candidate_right', 0))}, p = {apart:.2f})."
            )
        return True, f"Promoted: {comparison} {where}."
    if "only_current_right" not in baseline:  # measured before the per-image figures
        return False, f"Not promoted: {comparison} {where}."
    only_old = int(baseline["only_current_right"])
    only_new = int(baseline.get("only_candidate_right", 0))
    p_value = _worse_p_value(only_old, only_new)
    tally = (
        f"v{current.version} alone right on {only_old}, this one alone on {only_new}, "
        f"p = {p_value:.2f}"
    )
    if p_value >= WORSE_P_VALUE:
        return True, f"Promoted: {comparison} {where}, a gap within chance ({tally})."
    return False, f"Not promoted: {comparison} {where} ({tally})."


def _unchanged(baseline: dict[str, Any], new_f1: float, old_f1: float) -> bool:
    """Whether both models have the same figures and are right on the same images."""
    if "only_current_right" not in baseline or new_f1 != old_f1:
        return False
    same_accuracy = baseline.get("accuracy") == baseline.get("candidate_accuracy")
    only = int(baseline["only_current_right"]) + int(baseline.get("only_candidate_right", 0))
    return same_accuracy and only == 0


def _apart_p_value(baseline: dict[str, Any]) -> float | None:
    """The exact two-sided McNemar p-value of the two models on the same images."""
    if "only_current_right" not in baseline:
        return None
    only_old = int(baseline["only_current_right"])
    only_new = int(baseline.get("only_candidate_right", 0))
    if only_old + only_new == 0:
        return 1.0
    return float(binomtest(only_old, only_old + only_new, 0.5).pvalue)


def _worse_p_value(only_current_right: int, only_candidate_right: int) -> float:
    """How likely the current model alone is right this often if neither is better."""
    disagreements = only_current_right + only_candidate_right
    if disagreements == 0:
        return 1.0
    return float(binomtest(only_current_right, disagreements, 0.5, alternative="greater").pvalue)


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
    jobs.enqueue(Task.PRELABEL_DISPATCH, version.pk)
    return version
