"""Writes about quality: consensus final labels, adjudication and gold images.

Each write goes through the one writer of final labels (``final_writes``), which keeps
their history and schedules the refresh that follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from labeler.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Label, Project
from labeler.projects.selectors import MAX_ID

# final_labels_refresh: the refresh that follows label changes (see labeler.flows).
__all__ = [
    "final_labels_refresh",
    "image_decide",
    "image_decision_clear",
    "image_gold_clear",
    "images_decide",
]


@dataclass(frozen=True)
class Decision:
    """One image's decision in a batch: its labels (names or ids) and the method."""

    image_id: int
    labels: list[Any]
    method: str


class DecisionsRefused(DomainError):
    """Some decisions of a batch were refused: none of the batch was written.

    ``items`` says which and why, one entry per refused decision: its index in the batch,
    its image, and the status, code and message it would have had on its own. The batch's
    status is theirs when they share one, else 400.
    """

    def __init__(self, refused: list[tuple[int, int, DomainError]]) -> None:
        statuses = {error.status_code for _, _, error in refused}
        first_index, first_image, first = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        super().__init__(
            f"Nothing was saved: decision {first_index} (image {first_image}) was refused: "
            f"{first.message}{more}",
            items=[
                {
                    "index": index,
                    "image": image_id,
                    "status": error.status_code,
                    "code": error.code,
                    "detail": error.message,
                }
                for index, image_id, error in refused
            ],
        )
        self.status_code = statuses.pop() if len(statuses) == 1 else 400
        self.code = "decisions_refused"


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
def images_decide(
    *,
    project: Project,
    decisions: Sequence[Decision],
    decided_by: User,
    may_change_gold: bool = True,
) -> list[FinalLabel]:
    """Record a page of decisions at once, all or none: each through ``image_decide``.

    Every decision is tried (each in its own savepoint), so a refusal names every refused
    decision of the batch, not only the first; then ``DecisionsRefused`` rolls the whole
    batch back. An image named twice is refused before anything is written.
    """
    seen: dict[int, int] = {}
    for index, decision in enumerate(decisions):
        if decision.image_id in seen:
            raise ValidationFailed(
                f"Image {decision.image_id} is decided twice (decisions {seen[decision.image_id]} "
                f"and {index}): decide each image once.",
                field="decisions",
            )
        seen[decision.image_id] = index
    finals: list[FinalLabel] = []
    refused: list[tuple[int, int, DomainError]] = []
    for index, decision in enumerate(decisions):
        try:
            finals.append(
                image_decide(
                    project=project,
                    image_id=decision.image_id,
                    labels=decision.labels,
                    decided_by=decided_by,
                    method=decision.method,
                    may_change_gold=may_change_gold,
                )
            )
        except DomainError as error:
            refused.append((index, decision.image_id, error))
    if refused:
        raise DecisionsRefused(refused)
    return finals


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
