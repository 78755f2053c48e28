"""Which model version pre-labels a project: the automatic decision and the switch."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labeler import jobs
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.predictions.announcements import model_promoted_announce
from labeler.predictions.comparison import BETTER, SAME, WORSE
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.task_names import Task

NO_TEST_IMAGES = (
    "the project has no test image yet (a label gets test images once it has a few more "
    "final labels than the two a training needs)"
)


def promotion_decide(
    *,
    project: Project,
    baseline: dict[str, Any] | None,
    label_count: int | None = None,
) -> tuple[bool, str]:
    """Whether a newly trained model should replace the current one, and why (a note).

    ``baseline`` holds both models on the new one's held-out test images that neither
    was trained on nor validated on (``images`` of them; ``seen`` left out), paired image
    by image (``labeler.predictions.comparison``): the images only one of them gets right,
    the exact McNemar test's p-value and its ``verdict``, better, same (no difference
    beyond noise) or worse, and both models' macro-F1. The new model is promoted when
    there is no current model, when the two could not be compared (``baseline`` None:
    other labels; no test image left), and unless it is worse beyond noise: a model
    trained on more labels is not refused over a gap the test set cannot tell from
    chance. A retraining on as many final labels as the current model's (``label_count``)
    right on exactly the same images with the same figures is not a new model: nothing
    changed, and the current one stays.
    """
    current = ModelVersion.objects.filter(project=project, is_current=True).first()
    if current is None:
        return True, "Promoted: the project had no current model."
    if baseline is None:
        reason = "it could not be measured on the same test images"
        return True, f"Promoted: v{current.version} was not compared: {reason}."
    if not baseline.get("images"):
        if baseline.get("unmeasured"):
            reason = f"it could not be measured on the same test images ({baseline['unmeasured']})"
        elif baseline.get("seen"):
            reason = (
                f"it was trained or validated on every one of the {baseline['seen']} test images"
            )
        else:
            reason = NO_TEST_IMAGES
        return True, f"Promoted: v{current.version} was not compared: {reason}."
    words = comparison_words(baseline)
    if _unchanged(baseline) and label_count == current.label_count:
        return False, (
            f"Nothing changed: no new labels since v{current.version}, and right on exactly "
            f"the same test images ({words}); v{current.version} stays current."
        )
    if baseline.get("verdict") == WORSE:
        return False, f"Not promoted: {words}."
    if baseline.get("verdict") == SAME:
        more = label_count is not None and label_count > current.label_count
        why = (
            f"Trained on more labels ({label_count} against {current.label_count}), it is kept"
            if more
            else "A new model is kept"
        )
        return True, f"Promoted: {words}. {why} unless the test set shows it worse beyond noise."
    return True, f"Promoted: {words}."


def comparison_words(baseline: dict[str, Any]) -> str:
    """The comparison in words: the verdict, on how many test images, the counts and p."""
    version = f"v{baseline['version']}"
    verdict = baseline.get("verdict", SAME)
    head = {
        BETTER: f"better beyond noise than {version}",
        WORSE: f"worse beyond noise than {version}",
        SAME: f"no difference beyond noise from {version}",
    }[verdict]
    seen = f", {baseline['seen']} it had seen left out" if baseline.get("seen") else ""
    words = (
        f"{head} on {baseline['images']} test images neither was trained on{seen} "
        f"({version} alone right on {baseline['only_current_right']}, this one alone on "
        f"{baseline['only_candidate_right']}, exact McNemar test {p_text(baseline['p_value'])})"
    )
    old, new = baseline.get("macro_f1"), baseline.get("candidate_macro_f1")
    if old is not None and new is not None:
        words += f"; macro-F1 {new:.3f} against {old:.3f}"
        interval = (baseline.get("macro_f1_gain") or {}).get("interval")
        if interval:
            words += f" (gain 95% interval {interval[0]:+.3f} to {interval[1]:+.3f})"
    return words


def p_text(p_value: float) -> str:
    """ "p = 0.042", or "p < 0.001" where three decimals would read 0."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def _unchanged(baseline: dict[str, Any]) -> bool:
    """Whether both models have the same figures and are right on the same images."""
    only = int(baseline.get("only_current_right", 0)) + int(baseline.get("only_candidate_right", 0))
    return (
        only == 0
        and baseline.get("accuracy") == baseline.get("candidate_accuracy")
        and baseline.get("macro_f1") == baseline.get("candidate_macro_f1")
    )


@transaction.atomic
def model_version_promote(
    *, model_version: ModelVersion, promoted_by: User | None = None, note: str = ""
) -> ModelVersion:
    """Make the version the project's current model and start its pre-label pass on commit;
    webhooks hear ``model.promoted``.

    Promoting the current version again changes nothing.
    """
    # The project row's lock orders concurrent promotions of one project.
    Project.objects.select_for_update().filter(pk=model_version.project_id).first()
    version = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if version.is_current:
        return version
    current = ModelVersion.objects.filter(project_id=version.project_id, is_current=True)
    previous = current.values_list("version", flat=True).first()
    current.update(is_current=False)
    version.is_current = True
    version.promoted_at = timezone.now()
    version.promoted_by = promoted_by
    version.promotion_note = note or (
        f"Promoted by {promoted_by.get_username()}." if promoted_by else "Promoted."
    )
    version.save(update_fields=["is_current", "promoted_at", "promoted_by", "promotion_note"])
    audit_record(
        action=Action.MODEL_PROMOTED,
        actor=promoted_by,
        actor_name="" if promoted_by else "automatic",
        project=version.project_id,
        target=("model_version", version.pk, f"version {version.version}"),
        details={"before": previous, "after": version.version, "note": version.promotion_note},
    )
    jobs.enqueue(Task.PRELABEL_DISPATCH, version.pk)
    model_promoted_announce(version=version, previous=previous, automatic=promoted_by is None)
    return version
