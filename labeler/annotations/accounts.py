"""Moving an imported account's annotations to the member it stood for.

An import credits each person a file names to a member of the project, or to an account
of their own that cannot log in (inactive, no usable password) when none matched. Once
the lead knows who that person is, ``annotations_move`` gives the member their labels:
each annotation changes hands as it is, with its dates, time spent and revisions, and
the history of those labels names the member from then on, as if they had given them
here. Where the member labelled the same image themselves, the two labels cannot both be
theirs (one annotation per person and image): that image's annotation stays with the
imported account and the report lists it with both labels, for the lead to settle.

Final labels credited to the imported account (a decision the file carried) are the
layer above's to move (``labeler.imports.applying.accounts.imported_account_link`` does both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction

from labeler.annotations import history
from labeler.annotations.changes import labels_changed
from labeler.annotations.models import Annotation
from labeler.annotations.services import annotations_reassign
from labeler.errors import Conflict, NotFound, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Membership, Project
from labeler.projects.services import IMPORT, membership_remove

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MoveConflict:
    """An image both accounts labelled: its annotation stays with the imported account."""

    image_id: int
    source_labels: list[str]
    target_labels: list[str]


@dataclass(frozen=True)
class MoveReport:
    """What a move did: annotations moved, images left in conflict, decisions re-credited,
    and whether the imported account left the project (nothing of it was left there)."""

    source: str
    target: str
    moved: int
    conflicts: list[MoveConflict] = field(default_factory=list)
    decisions_moved: int = 0
    membership_removed: bool = False


def imported_account(user: User) -> bool:
    """Whether the account is one an import made: it cannot log in (inactive, and no
    usable password), so it stands for someone who labelled elsewhere."""
    return not user.is_active and not user.has_usable_password()


def move_check(*, project: Project, source: User, target: User) -> None:
    """Refuse a move that is not from an imported member to another, active, member.

    The source must be a member (404 otherwise: the address names a member); the rest
    answer 400 naming what is wrong.
    """
    if not Membership.objects.filter(project=project, user=source).exists():
        raise NotFound(f"{source.username!r} is not a member of this project.")
    if source.pk == target.pk:
        raise ValidationFailed(
            f"{source.username!r} would be linked to itself: choose the member whose "
            "labels these are.",
            field="to",
        )
    if not imported_account(source):
        raise ValidationFailed(
            f"{source.username!r} is not an imported account (it can log in, or once "
            "could): only the labels of an account an import made are moved to a member.",
            field="user",
        )
    member = Membership.objects.filter(project=project, user=target, user__is_active=True)
    if not member.exists():
        raise ValidationFailed(
            f"{target.username!r} is not an active member of this project: add them "
            "first, then link.",
            field="to",
        )


@transaction.atomic
def annotations_move(*, project: Project, source: User, target: User, by: User) -> MoveReport:
    """Give ``target`` every annotation the imported account ``source`` has in the project.

    Images ``target`` labelled too are left with ``source`` and reported as conflicts.
    The history of what moved names ``target``; the refresh of final labels and quality
    figures is scheduled. When ``source`` has no annotation left in the project, it
    leaves it (a project's last lead stays, as ever). ``by`` is the lead who linked them.
    """
    move_check(project=project, source=source, target=target)
    mine = Annotation.objects.filter(project=project, annotator=source)
    # Image rows are locked in id order, as a submit locks its image: the target cannot
    # label one of these images between the conflicts read and the move.
    images = Image.objects.select_for_update().filter(pk__in=mine.values("image_id"))
    list(images.order_by("pk").values_list("pk", flat=True))
    moved = annotations_reassign(project=project, source=source, target=target)
    history.annotator_history_move(project_id=project.pk, source_id=source.pk, target_id=target.pk)
    conflicts = _conflicts(project, source, target)
    removed = not conflicts and _membership_leave(project, source)
    if moved:
        labels_changed(project_id=project.pk)
    logger.info(
        "Project %s: %s linked imported account %s to %s (%s moved, %s conflicts)",
        project.pk,
        by.username,
        source.username,
        target.username,
        moved,
        len(conflicts),
    )
    return MoveReport(source.username, target.username, moved, conflicts, 0, removed)


def _conflicts(project: Project, source: User, target: User) -> list[MoveConflict]:
    """The images both accounts still label, each with both accounts' label names."""
    left = Annotation.objects.filter(project=project, annotator=source)
    both = Annotation.objects.filter(
        project=project, annotator__in=[source, target], image_id__in=left.values("image_id")
    )
    through = Annotation.labels.through.objects.filter(annotation__in=both)
    names: dict[tuple[int, int], list[str]] = {}
    for image_id, annotator_id, name in through.order_by("label__position", "label_id").values_list(
        "annotation__image_id", "annotation__annotator_id", "label__name"
    ):
        names.setdefault((image_id, annotator_id), []).append(name)
    return [
        MoveConflict(
            image_id,
            names.get((image_id, source.pk), []),
            names.get((image_id, target.pk), []),
        )
        for image_id in left.order_by("image_id").values_list("image_id", flat=True)
    ]


def _membership_leave(project: Project, source: User) -> bool:
    """Take the imported account out of the project; False when it must stay (the last lead)."""
    membership = Membership.objects.filter(project=project, user=source).first()
    if membership is None:
        return False
    try:
        membership_remove(membership=membership, via=IMPORT)  # merged, not removed by hand
    except Conflict:
        return False
    return True
