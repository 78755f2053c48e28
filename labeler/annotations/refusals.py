"""Why the lease gate leased nothing, as the error an annotator is answered with.

The gate itself is one SQL statement (``queue_sql``'s ``lease``), so that the queue's
hot path spends no extra query on it; only when it refuses are the image's facts read
again here, under the same row lock, to say which of its conditions failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from labeler.annotations.errors import (
    FacesNotBlurred,
    ImageFull,
    ImageProblem,
    ImageReserved,
    LeaseLimit,
    NotHandedOut,
    QualificationImagesOnly,
)
from labeler.annotations.models import (
    Annotation,
    Assignment,
    FinalLabel,
    FinalLabelMethod,
    ImageReservation,
    Skip,
)
from labeler.errors import Conflict
from labeler.images.models import Image


@dataclass(frozen=True)
class LeaseFacts:
    """What the gate looks at, for one annotator and one image."""

    image_id: int
    held_elsewhere: int  # the annotator's live leases on other images of the project
    cap: int
    test_only: bool
    method: str | None  # the image's final label's method, if it has one
    problem: str
    faces_hidden: bool  # the project blurs faces and the image's are not blurred yet
    complete: bool
    kept_for_others: bool
    seen: bool  # labelled or skipped by the annotator
    taken: int  # annotations and other annotators' live leases
    needed: int


def lease_facts(
    *,
    project_id: int,
    overlap: int,
    annotator_id: int,
    image_id: int,
    now: datetime,
    cap: int,
    test_only: bool,
    blur_faces: bool = False,
) -> LeaseFacts:
    """Read what the gate looked at (the caller holds the image's row lock)."""
    image = Image.objects.filter(pk=image_id, project_id=project_id).first()
    if image is None:
        return LeaseFacts(image_id, 0, cap, test_only, None, "", False, False, False, True, 0, 0)
    live = Assignment.objects.filter(expires_at__gt=now)
    reserved = ImageReservation.objects.filter(image_id=image_id)
    mine = Q(image_id=image_id, annotator_id=annotator_id)
    return LeaseFacts(
        image_id=image_id,
        held_elsewhere=live.filter(project_id=project_id, annotator_id=annotator_id)
        .exclude(image_id=image_id)
        .count(),
        cap=cap,
        test_only=test_only,
        method=FinalLabel.objects.filter(image_id=image_id)
        .values_list("method", flat=True)
        .first(),
        problem=image.problem,
        faces_hidden=blur_faces and image.faces_state != "done",
        complete=image.is_complete,
        kept_for_others=reserved.exists()
        and not reserved.filter(annotator_id=annotator_id).exists(),
        seen=Annotation.objects.filter(mine).exists() or Skip.objects.filter(mine).exists(),
        taken=image.annotation_count
        + live.filter(image_id=image_id).exclude(annotator_id=annotator_id).count(),
        needed=overlap + image.extra_annotations,
    )


def lease_refusal(facts: LeaseFacts, *, late: bool = False) -> Conflict:
    """The first of the gate's conditions the facts fail, as the annotator's error: the
    annotator's own (cap, test) before the image's (problem, reserved, complete, full).
    ``late``: the label comes on a lease that ran out."""
    image_id = facts.image_id
    gold = facts.method == FinalLabelMethod.GOLD
    if facts.held_elsewhere >= facts.cap:
        return LeaseLimit(
            f"You hold {facts.held_elsewhere} images already, the most one annotator may: "
            "label or skip them before taking another."
        )
    if facts.test_only and not gold:
        return qualification_images_only()
    if facts.problem:
        return ImageProblem(
            f"Image {image_id} is flagged as a problem ({facts.problem}): it is not "
            "labelled until a lead clears it.",
            field="image",
        )
    if facts.faces_hidden:
        return FacesNotBlurred(
            f"Image {image_id} is shown once its faces are found and blurred: label the "
            "images that next/ gives you meanwhile.",
            field="image",
        )
    if facts.kept_for_others:
        return ImageReserved(f"Image {image_id} is kept for other annotators.", field="image")
    if facts.seen:
        return NotHandedOut(
            f"Image {image_id} was not handed to you by the queue: label the images that "
            "next/ gives you.",
            field="image",
        )
    if facts.complete and not gold and facts.method == FinalLabelMethod.IMPORTED:
        return ImageFull(
            f"Image {image_id} needs no more labels: it came with its label from an "
            "import. Nothing was saved for it.",
            field="image",
        )
    why = "your lease on it ran out and others took its place" if late else "others hold it"
    return ImageFull(
        f"Image {image_id} has all the labels it needs ({facts.needed}): {why}. "
        "Nothing was saved for it.",
        field="image",
    )


def qualification_images_only() -> QualificationImagesOnly:
    """The refusal of a non-test image to an annotator taking the qualification test."""
    return QualificationImagesOnly(
        "You are taking this project's qualification test: only its images are open to "
        "you until you pass it. Label the images that next/ gives you.",
        field="image",
    )
