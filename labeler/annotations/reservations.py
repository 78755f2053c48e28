"""Reservations: images kept for named annotators, whom alone the queue serves them to.

The queue reads them in its lease gate (``queue_sql``); this module is their only writer.
Only annotators take images from the queue, so only annotators may be named: an image
kept for a lead or a reviewer would go to no one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User

from labeler.annotations.models import ImageReservation
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import ValidationFailed
from labeler.projects.models import Project, Role
from labeler.projects.selectors import MAX_NAMED, members_named


def reservation_annotators(
    *, project: Project, usernames: Any, field: str = "annotators"
) -> list[int]:
    """The user ids of the named annotators of the project, sorted; refuses (400, naming
    them) a name that is no member, or a member who is not an annotator."""
    members = members_named(project=project, usernames=usernames, field=field)
    others = [
        f"{name!r} ({Role(role).label.lower()})"
        for name, (_, role) in members.items()
        if role != Role.ANNOTATOR
    ]
    if others:
        raise ValidationFailed(
            f"Images are kept for annotators only, and {', '.join(others[:MAX_NAMED])} "
            f"{'is not one' if len(others) == 1 else 'are not'}: the queue would hand "
            "the images to no one.",
            field=field,
        )
    return sorted(user_id for user_id, _ in members.values())


def reservations_replace(
    *, project: Project, image_ids: Iterable[int], annotator_ids: list[int], by: User
) -> None:
    """Keep the images for these annotators only, replacing any earlier reservation of
    them; an empty list releases them to everyone."""
    batch = list(image_ids)
    ImageReservation.objects.filter(image_id__in=batch).delete()
    ImageReservation.objects.bulk_create(
        [
            ImageReservation(project=project, image_id=image_id, annotator_id=who, created_by=by)
            for image_id in batch
            for who in annotator_ids
        ],
        batch_size=5000,
    )
    audit_record(
        action=Action.RESERVATIONS_CHANGED,
        actor=by,
        project=project,
        target=("images", len(batch), f"{len(batch)} images"),
        details={"images": len(batch), "annotator_ids": annotator_ids},
    )
