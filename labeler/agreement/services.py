"""Writes about quality: consensus final labels, adjudication and gold images."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from labeler.agreement.final_labels import (
    final_labels_kept_current,
    final_labels_refresh,
    label_changes,
)
from labeler.agreement.refresh import (
    agreement_refresh_due_ids,
    agreement_refresh_due_mark,
    agreement_refresh_due_take,
    agreement_refresh_schedule,
)
from labeler.agreement.review import review_candidates
from labeler.agreement.rows import HUMAN_DECISIONS
from labeler.agreement.selectors import agreement_report
from labeler.annotations.history import final_labels_tracked
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.annotations.services import labels_resolve
from labeler.errors import NotFound, PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.predictions.runs import training_refresh_if_due
from labeler.projects.models import Label, Project
from labeler.projects.selectors import MAX_ID

logger = logging.getLogger(__name__)


def agreement_refresh(*, project: Project) -> None:
    """Bring the project's consensus final labels, agreement report and review queue up to date.

    Run in the background after labels change (see ``agreement_refresh_schedule``), so
    the pages that read these find them ready; retrains the model when enough new final
    labels came in.
    """
    final_labels_refresh(project=project)
    training_refresh_if_due(project=project)
    agreement_report(project)
    review_candidates(project)


def agreement_refresh_overdue() -> int:
    """Refresh every project whose refresh could not be scheduled; returns how many were.

    Each project leaves the due list as its refresh starts and goes back on it if the
    refresh fails, so one failure neither stops the others nor is forgotten.
    """
    refreshed = 0
    for project_id in agreement_refresh_due_ids():
        if not agreement_refresh_due_take(project_id=project_id):
            continue
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            continue
        try:
            agreement_refresh(project=project)
        except Exception:  # logged, and tried again by the next run
            logger.exception("Overdue agreement refresh of project %s failed", project_id)
            agreement_refresh_due_mark(project_id=project_id)
            continue
        refreshed += 1
    return refreshed


@transaction.atomic
def image_decide(
    *,
    project: Project,
    image_id: Any,
    labels: Any,
    decided_by: User,
    method: str,
    may_change_gold: bool = True,
) -> FinalLabel:
    """Record a person's final label for an image: adjudicated (review) or gold.

    Without ``may_change_gold`` (a reviewer), a gold image's label is refused. That is
    checked under the project's final-label lock, so a lead marking the image gold at the
    same moment is never overwritten.
    """
    if method not in HUMAN_DECISIONS:
        raise ValidationFailed(f"Unknown decision {method!r}.", field="method")
    chosen: list[Label] = labels_resolve(project=project, raw_labels=labels)
    image = _image(project, image_id)
    with final_labels_tracked(project=project, image_ids=[image.pk], changed_by=decided_by):
        if not may_change_gold and _is_gold(image):
            raise PermissionDenied(
                f"Image {image.pk} is a gold image: only leads and admins change its label."
            )
        seen = label_changes(project)
        final, _ = FinalLabel.objects.update_or_create(
            image=image, defaults={"method": method, "confidence": 1.0, "decided_by": decided_by}
        )
        final.labels.set(chosen)
    final_labels_kept_current(project=project, seen=seen)
    agreement_refresh_schedule(project_id=project.pk)
    return final


@transaction.atomic
def image_gold_clear(*, project: Project, image_id: Any, cleared_by: User) -> None:
    """Stop using an image as gold; consensus decides its label again."""
    image = _image(project, image_id)
    with final_labels_tracked(project=project, image_ids=[image.pk], changed_by=cleared_by):
        FinalLabel.objects.filter(image=image, method=FinalLabelMethod.GOLD).delete()
    agreement_refresh_schedule(project_id=project.pk)


@transaction.atomic
def image_decision_clear(*, project: Project, image_id: int, cleared_by: User) -> None:
    """Take back a person's decision (adjudicated or gold): consensus decides the image again."""
    if not 0 < image_id <= MAX_ID:
        raise NotFound(f"Image {image_id} has no decision by a person in this project.")
    with final_labels_tracked(project=project, image_ids=[image_id], changed_by=cleared_by):
        deleted, _ = FinalLabel.objects.filter(
            image_id=image_id, image__project=project, method__in=HUMAN_DECISIONS
        ).delete()
    if not deleted:
        raise NotFound(f"Image {image_id} has no decision by a person in this project.")
    agreement_refresh_schedule(project_id=project.pk)


def _is_gold(image: Image) -> bool:
    return FinalLabel.objects.filter(image=image, method=FinalLabelMethod.GOLD).exists()


def _image(project: Project, image_id: Any) -> Image:
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ValidationFailed("'image' must be an image id.", field="image")
    image = Image.objects.filter(pk=image_id, project=project).first()
    if image is None:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    return image
