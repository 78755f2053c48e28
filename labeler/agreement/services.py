"""Writes about quality: consensus final labels, adjudication and gold images.

Each write goes through the one writer of final labels (``final_writes``), which keeps
their history and schedules the refresh that follows.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from labeler.agreement.final_labels import (
    final_labels_kept_current,
    final_labels_refresh,
    label_changes,
)
from labeler.agreement.final_writes import final_labels_written
from labeler.agreement.review_requests import review_requests_resolve
from labeler.agreement.rows import HUMAN_DECISIONS
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.annotations.services import labels_resolve
from labeler.errors import NotFound, PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Label, Project
from labeler.projects.selectors import MAX_ID

# final_labels_refresh: the refresh that follows label changes (see labeler.flows).
__all__ = [
    "final_labels_refresh",
    "image_decide",
    "image_decision_clear",
    "image_gold_clear",
]


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
    same moment is never overwritten. The decision resolves the image's open review
    requests.
    """
    if method not in HUMAN_DECISIONS:
        raise ValidationFailed(f"Unknown decision {method!r}.", field="method")
    chosen: list[Label] = labels_resolve(project=project, raw_labels=labels)
    image = _image(project, image_id)
    with final_labels_written(
        project=project, image_ids=[image.pk], changed_by=decided_by
    ) as write:
        if not may_change_gold and _is_gold(image):
            raise PermissionDenied(
                f"Image {image.pk} is a gold image: only leads and admins change its label."
            )
        seen = label_changes(project)
        final = write.set_one(
            image.pk, chosen, method=method, confidence=1.0, decided_by=decided_by
        )
    review_requests_resolve(project, [image.pk])  # a person decided: the requests are answered
    final_labels_kept_current(project=project, seen=seen)
    return final


@transaction.atomic
def image_gold_clear(*, project: Project, image_id: Any, cleared_by: User) -> None:
    """Stop using an image as gold; consensus decides its label again."""
    image = _image(project, image_id)
    written = final_labels_written(project=project, image_ids=[image.pk], changed_by=cleared_by)
    with written as write:
        write.clear([image.pk], methods=[FinalLabelMethod.GOLD])


@transaction.atomic
def image_decision_clear(*, project: Project, image_id: int, cleared_by: User) -> None:
    """Take back a person's decision (adjudicated or gold): consensus decides the image again."""
    if not 0 < image_id <= MAX_ID:
        raise NotFound(f"Image {image_id} has no decision by a person in this project.")
    written = final_labels_written(project=project, image_ids=[image_id], changed_by=cleared_by)
    with written as write:
        deleted = write.clear([image_id], methods=HUMAN_DECISIONS)
    if not deleted:
        raise NotFound(f"Image {image_id} has no decision by a person in this project.")


def _is_gold(image: Image) -> bool:
    return FinalLabel.objects.filter(image=image, method=FinalLabelMethod.GOLD).exists()


def _image(project: Project, image_id: Any) -> Image:
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ValidationFailed("'image' must be an image id.", field="image")
    image = Image.objects.filter(pk=image_id, project=project).first()
    if image is None:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    return image
