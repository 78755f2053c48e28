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
        self.errors = [error for _, _, error in refused]


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
    requests. A batch of one (``images_decide``): refused, it raises its own error.
    """
    decision = Decision(image_id=image_id, labels=labels, method=method)
    try:
        [final] = images_decide(
            project=project,
            decisions=[decision],
            decided_by=decided_by,
            may_change_gold=may_change_gold,
        )
    except DecisionsRefused as refused:
        raise refused.errors[0] from None
    return final


@transaction.atomic
def images_decide(
    *,
    project: Project,
    decisions: Sequence[Decision],
    decided_by: User,
    may_change_gold: bool = True,
) -> list[FinalLabel]:
    """Record a page of decisions at once, all or none (``image_decide`` says what one is).

    Every decision is checked, so a refusal names every refused decision of the batch, not
    only the first, and ``DecisionsRefused`` then writes nothing. The page is written in one
    turn of the project's final-label lock, its review requests resolved and the final
    labels brought up to date once. An image named twice is refused before anything else.
    """
    seen_at: dict[Any, int] = {}
    for index, decision in enumerate(decisions):
        if decision.image_id in seen_at:
            raise ValidationFailed(
                f"Image {decision.image_id} is decided twice (decisions "
                f"{seen_at[decision.image_id]} and {index}): decide each image once.",
                field="decisions",
            )
        seen_at[decision.image_id] = index
    chosen: list[tuple[int, Image, list[Label], str]] = []
    refused: list[tuple[int, Any, DomainError]] = []
    for index, decision in enumerate(decisions):
        try:
            if decision.method not in HUMAN_DECISIONS:
                raise ValidationFailed(f"Unknown decision {decision.method!r}.", field="method")
            labels = labels_resolve(project=project, raw_labels=decision.labels)
            chosen.append((index, _image(project, decision.image_id), labels, decision.method))
        except DomainError as error:
            refused.append((index, decision.image_id, error))
    image_ids = [image.pk for _, image, _, _ in chosen]
    with final_labels_written(project=project, image_ids=image_ids, changed_by=decided_by) as write:
        if not may_change_gold:
            refused += [
                (index, image.pk, _gold_refusal(image))
                for index, image, _, _ in chosen
                if _is_gold(image)
            ]
        if refused:
            raise DecisionsRefused(sorted(refused, key=lambda item: item[0]))
        since = label_changes(project)
        finals = [
            write.set_one(image.pk, labels, method=method, confidence=1.0, decided_by=decided_by)
            for _, image, labels, method in chosen
        ]
    review_requests_resolve(project, image_ids)  # a person decided: the requests are answered
    final_labels_kept_current(project=project, seen=since)
    return finals


def _gold_refusal(image: Image) -> PermissionDenied:
    return PermissionDenied(
        f"Image {image.pk} is a gold image: only leads and admins change its label."
    )


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
