"""The accounts the people of a labels file take, as planned (``planning.people``):
those to be made are made, inactive and unable to log in, and every one is made a member
of the project through ``projects.services.membership_set``. Later, when the lead knows
who an imported account stood for, ``imported_account_link`` gives the member its
annotations and decisions (``annotations.accounts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from labeler.agreement.final_writes import final_labels_written
from labeler.annotations.accounts import MoveReport, annotations_move
from labeler.annotations.models import FinalLabel
from labeler.errors import ValidationFailed
from labeler.imports.planning.people import (
    CHOSEN,
    EMAIL,
    FIELD,
    USERNAME,
    PersonMatch,
    person_email,
    person_rematch,
)
from labeler.projects.models import Membership, Project, Role
from labeler.projects.services import IMPORT, membership_set


@transaction.atomic
def people_resolve(*, project: Project, matches: Sequence[PersonMatch]) -> dict[str, User]:
    """The account of each person (by key), creating those to be made; every one is then
    a member of the project (an annotator, unless a member already in another role).

    Resolving the same matches again finds the accounts the first time made.
    """
    users: dict[str, User] = {}
    taken: set[str] = set()
    for match in matches:
        user = _resolved(project, match, taken)
        taken.add(user.username.casefold())
        if not Membership.objects.filter(project=project, user=user).exists():
            membership_set(project=project, user=user, role=Role.ANNOTATOR, via=IMPORT)
        users[match.person.key] = user
    return users


@transaction.atomic
def imported_account_link(*, project: Project, source: User, to: object, by: User) -> MoveReport:
    """Give the member named ``to`` the annotations and decisions of the imported account
    ``source`` (``annotations.accounts.annotations_move``: what both labelled stays and is
    reported); final labels it decided are credited to the member, as they are."""
    target = _member_named(project, to)
    report = annotations_move(project=project, source=source, target=target, by=by)
    decided = FinalLabel.objects.filter(image__project=project, decided_by=source)
    image_ids = list(decided.values_list("image_id", flat=True))
    if not image_ids:
        return report
    with final_labels_written(project=project, image_ids=image_ids, changed_by=by) as write:
        moved = write.decided_by_set(image_ids, decided_by=target)
    return replace(report, decisions_moved=moved)


def _resolved(project: Project, match: PersonMatch, taken: set[str]) -> User:
    """The account of one match, made when it is to be (named again if the name went)."""
    if match.how in (EMAIL, USERNAME, CHOSEN):
        found = User.objects.filter(pk=match.user_id or 0, is_active=True)
        user = found.first()
        if user is None:
            raise ValidationFailed(
                f"{match.account!r} is no longer an active account: look at the matches again.",
                field=FIELD,
            )
        return user
    for _ in range(2):  # a second try when another import took the name meanwhile
        walked = person_rematch(project=project, person=match.person, taken=taken)
        if walked.user_id is not None:
            return User.objects.get(pk=walked.user_id)
        try:
            with transaction.atomic():
                user = User(username=walked.account, email=person_email(match.person))
                user.is_active = False
                user.set_unusable_password()
                user.save()
                return user
        except IntegrityError:
            continue
    raise ValidationFailed(f"No account could be made for {match.person.shown()!r}.", field=FIELD)


def _member_named(project: Project, to: object) -> User:
    """The project's member named ``to`` (active or not: the move says what is wrong)."""
    if not isinstance(to, str) or not to.strip():
        raise ValidationFailed("Name the member to link to (their username).", field="to")
    rows = Membership.objects.filter(project=project).select_related("user")
    members = [m.user for m in rows.filter(user__username__iexact=to.strip())]
    exact = [user for user in members if user.username == to.strip()]
    if exact or len(members) == 1:
        return (exact or members)[0]
    raise ValidationFailed(f"No member of this project is named {to.strip()!r}.", field="to")
