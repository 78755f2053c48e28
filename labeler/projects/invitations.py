"""Invitations into a project: who may join which project with which role.

A project's leads (and admins, on any project) invite people either by e-mail (one
address, one use) or by a link to share (any number of uses, or at most ``max_uses``).
Each lives a number of days the lead chooses. Its token is random (``secrets``) and
only its SHA-256 is stored; a token is looked up by that hash and compared in constant
time. The link is shown once, when made (and e-mailed, for an invitation by e-mail).

Accepting one gives the person the invited role in the project, unless they are a
member with that role or a stronger one already: a link never demotes anyone. An
invitation works only while its maker may still invite people into the project: once
they are no longer its lead (or an admin), or their account is deactivated or deleted,
their invitations let no one in. Someone
without an account makes one on the join page (``invitation_join``); someone signed in
joins in one click (``invitation_accept``). Deactivated accounts join nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from labeler.projects import accounts, addresses, selectors, services
from labeler.projects.mail import mail_send
from labeler.projects.models import Invitation, Membership, Project, Role

logger = logging.getLogger(__name__)

EXPIRY_CHOICES = (1, 7, 30)  # days, as the members page offers them
DEFAULT_EXPIRY_DAYS = 7
MAX_EXPIRY_DAYS = 30
MAX_USES_LIMIT = 1000
TOKEN_BYTES = 32
TOKEN_LENGTH = 43  # token_urlsafe(32): 43 characters of A-Z a-z 0-9 - _
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# A stronger role includes what a weaker one may do: lead > reviewer > annotator.
ROLE_RANK = {Role.ANNOTATOR: 0, Role.REVIEWER: 1, Role.LEAD: 2}


class InvitationUnusable(DomainError):
    """The invitation existed but can no longer be used: expired, revoked or used up."""

    status_code = 410
    code = "invitation_unusable"


@dataclass(frozen=True)
class InvitationMade:
    """A new invitation and its link (the only time the link can be read)."""

    invitation: Invitation
    link: str


@dataclass(frozen=True)
class Joined:
    """What accepting did: the membership, whether it is new, and whether the member's
    stronger role was kept rather than the invitation's."""

    membership: Membership
    created: bool
    role_kept: bool


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def may_invite(*, user: User, project: Project) -> bool:
    """Leads of the project and admins invite people into it."""
    return selectors.manages_now(user=user, project=project)


@transaction.atomic
def invitation_create(
    *,
    project: Project,
    by: User,
    base_url: str,
    role: str = Role.ANNOTATOR,
    email: str = "",
    days: Any = DEFAULT_EXPIRY_DAYS,
    max_uses: Any = None,
) -> InvitationMade:
    """Invite someone into ``project`` as ``role``: by e-mail when ``email`` is given
    (sent now; nothing is kept if it cannot be sent), else a link to share.

    Raises PermissionDenied unless ``by`` leads the project or is an admin,
    ValidationFailed for a bad role, address, lifetime or number of uses, Conflict when
    the address is a member's already, MailFailed when the mail server refuses.
    """
    if not may_invite(user=by, project=project):
        raise PermissionDenied("Only the project's leads and admins can invite people.")
    _role_check(role)
    days = _days_check(days)
    email = (email or "").strip()
    if email:
        _email_check(email)
        if max_uses is not None:
            raise ValidationFailed(
                "An invitation by e-mail is used once; max_uses is for links.", field="max_uses"
            )
        _not_member_check(project, email)
    else:
        max_uses = _max_uses_check(max_uses)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = Invitation.objects.create(
        project=project,
        role=role,
        email=email,
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(days=days),
        max_uses=1 if email else max_uses,
        created_by=by,
    )
    link = base_url.rstrip("/") + reverse("join", kwargs={"token": token})
    if email:
        _mail(invitation, link=link, by=by)
        # The earlier ones still usable go once the new one is sent: revoked after the mail,
        # not before, since the trail's lock is held from the first entry to the commit.
        earlier = _pending_to(project, email).exclude(pk=invitation.pk)
        services.invitations_revoke(
            earlier.filter(Q(max_uses=None) | Q(uses__lt=F("max_uses"))).filter(
                expires_at__gt=timezone.now()
            ),
            by=by,
            because="invited again",
        )
    audit_record(
        action=Action.INVITATION_CREATED,
        actor=by,
        project=project,
        target=("invitation", invitation.pk, email or "link"),
        details={"role": role, "email": email, "days": days, "max_uses": invitation.max_uses},
    )
    return InvitationMade(invitation=invitation, link=link)


def invitation_revoke(*, invitation: Invitation, by: User) -> Invitation:
    """Revoke an invitation: its link stops working at once (revoking twice is a no-op).

    Raises PermissionDenied unless ``by`` leads the invitation's project or is an admin.
    """
    if not may_invite(user=by, project=invitation.project):
        raise PermissionDenied("Only the project's leads and admins can revoke invitations.")
    services.invitations_revoke(Invitation.objects.filter(pk=invitation.pk), by=by)
    invitation.refresh_from_db(fields=["revoked_at"])
    return invitation


def invitation_find(token: str, *, lock: bool = False) -> Invitation:
    """The usable invitation with this token.

    Raises NotFound for a token no invitation has, InvitationUnusable (410) saying
    whether it was revoked, has expired or was used up.
    """
    unknown = NotFound("This invitation link is not known: check that it was copied whole.")
    if len(token) != TOKEN_LENGTH or not set(token) <= _TOKEN_CHARS:
        raise unknown
    digest = token_hash(token)
    rows = Invitation.objects.select_related("project", "created_by")
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.filter(token_hash=digest).first()
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        raise unknown
    _usable_check(found)
    _maker_check(found)
    return found


def invitation_accept(*, token: str, user: User) -> Joined:
    """A signed-in person takes the invitation: they become a member with its role.

    Raises as ``invitation_find`` does; PermissionDenied for a deactivated account or,
    for an invitation by e-mail, an account with another address.
    """
    with transaction.atomic():
        invitation = invitation_find(token, lock=True)
        if not user.is_active:
            raise PermissionDenied("This account is deactivated: it cannot join projects.")
        if invitation.email:
            _invited_address_check(invitation, user)
        # Taking it confirms no address: the lead who made it was shown its link too.
        return _grant(invitation, user)


def invitation_join(
    *, token: str, username: str, email: str, password: str, base_url: str = ""
) -> Joined:
    """Someone without an account makes one from the invitation and joins, all or nothing.

    For an invitation by e-mail the address is the invited one, whatever ``email`` says;
    on a link's join page, the one typed. Neither is confirmed by the join (the lead who
    made the invitation was shown its link as well): a link to confirm it is e-mailed once
    the account is made (``base_url``: where the link starts; none, no mail), and until
    then it is nobody's (``labeler.projects.addresses``).
    The password must pass the server's password validators. Raises as
    ``invitation_find`` does; ValidationFailed or Conflict naming the field at fault
    (a taken username, an address an account has already: sign in instead);
    PermissionDenied when that account is deactivated.
    """
    with transaction.atomic():
        invitation = invitation_find(token, lock=True)
        email = invitation.email or (email or "").strip()
        if not email:
            raise ValidationFailed("Give your e-mail address.", field="email")
        _email_check(email)
        _no_account_with(email)
        services.membership_removal_check(
            project=invitation.project,
            user=None,
            via=services.INVITATION,
            invitation=invitation,
            email=email,
        )
        user = accounts.account_create(
            username=username,
            email=email,
            invitation=invitation,
        )
        try:
            password_validation.validate_password(password, user=user)
        except ValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages), field="password") from exc
        user.set_password(password)
        user.save(update_fields=["password"])
        joined = _grant(invitation, user)
    if base_url:  # once the account is stored
        _confirmation_send(user, base_url)
    return joined


def role_kept(*, current: str | None, invited: str) -> bool:
    """Whether a member whose role is ``current`` (None: not a member) keeps it on taking
    an invitation as ``invited``: it is as strong or stronger."""
    return current is not None and ROLE_RANK[Role(current)] >= ROLE_RANK[Role(invited)]


def account_with_email(email: str) -> User | None:
    """The account this address belongs to: the one that confirmed it, if any."""
    return addresses.person_by_verified_email(email)


def _invited_address_check(invitation: Invitation, user: User) -> None:
    """An invitation by e-mail is taken by the account with that address, and not by one
    that holds it unconfirmed while another confirmed it."""
    holder = addresses.person_by_verified_email(invitation.email)
    if invitation.email.casefold() != (user.email or "").casefold() or (
        holder is not None and holder.pk != user.pk
    ):
        raise PermissionDenied(
            f"This invitation is for {invitation.email}; you are signed in as "
            f"{user.username}. Log out to accept it, or ask the lead to invite your address."
        )


def _confirmation_send(user: User, base_url: str) -> None:
    """E-mail a new account's typed address its confirmation link; a refusal of the mail
    server is logged (the account is made: its owner can be sent another)."""
    try:
        addresses.email_verify_send(user=user, base_url=base_url)
    except DomainError:
        logger.warning("The confirmation of %s's address could not be sent", user, exc_info=True)


def _grant(invitation: Invitation, user: User) -> Joined:
    """The membership the invitation gives; a stronger role held already is kept."""
    project = invitation.project
    current = Membership.objects.filter(project=project, user=user).first()
    if current is not None and role_kept(current=current.role, invited=invitation.role):
        return Joined(membership=current, created=False, role_kept=current.role != invitation.role)
    membership, created = services.membership_set(
        project=project, user=user, role=invitation.role, invitation=invitation
    )
    Invitation.objects.filter(pk=invitation.pk).update(uses=F("uses") + 1)
    return Joined(membership=membership, created=created, role_kept=False)


def _usable_check(invitation: Invitation) -> None:
    if invitation.revoked_at is not None:
        raise InvitationUnusable(
            "This invitation was revoked by the project's lead: ask them for a new one.",
            reason="revoked",
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationUnusable(
            f"This invitation expired on {invitation.expires_at:%d %b %Y, %H:%M} UTC: "
            "ask the project's lead for a new one.",
            reason="expired",
        )
    if invitation.max_uses is not None and invitation.uses >= invitation.max_uses:
        raise InvitationUnusable(
            "This invitation has been used up"
            + (
                " already"
                if invitation.max_uses == 1
                else f" ({invitation.max_uses} people joined)"
            )
            + ": ask the project's lead for a new one.",
            reason="used_up",
        )


def _maker_check(invitation: Invitation) -> None:
    # An invitation lets people in on its maker's authority, so it lasts only as long as
    # that authority does: a lead who is demoted, removed or deactivated (or an admin who
    # is no longer one) cannot come back, or bring anyone in, by a link made earlier.
    maker = invitation.created_by
    if (
        maker is None
        or not maker.is_active
        or not may_invite(user=maker, project=invitation.project)
    ):
        raise InvitationUnusable(
            "Whoever made this invitation can no longer invite people into "
            f"{invitation.project.name}: ask one of its leads for a new one.",
            reason="maker_lost_rights",
        )


def _role_check(role: Any) -> None:
    if role not in Role.values:
        raise ValidationFailed(
            f"Role must be one of {', '.join(Role.values)}, not {role!r}.", field="role"
        )


def _days_check(days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ValidationFailed(
            f"An invitation lives from 1 to {MAX_EXPIRY_DAYS} days, not {days!r}.",
            field="expires_in_days",
        )
    return days


def _max_uses_check(max_uses: Any) -> int | None:
    if max_uses is None:
        return None
    if (
        isinstance(max_uses, bool)
        or not isinstance(max_uses, int)
        or not 1 <= max_uses <= MAX_USES_LIMIT
    ):
        raise ValidationFailed(
            f"max_uses is a number from 1 to {MAX_USES_LIMIT}, or none for no limit.",
            field="max_uses",
        )
    return max_uses


def _email_check(email: str) -> None:
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(f"{email!r} is not an e-mail address.", field="email") from exc


def _not_member_check(project: Project, email: str) -> None:
    holder = addresses.person_by_verified_email(email)
    if holder is not None and Membership.objects.filter(project=project, user=holder).exists():
        raise Conflict(f"{email} is a member already ({holder.username}).", field="email")


def _pending_to(project: Project, email: str) -> Any:
    return Invitation.objects.filter(project=project, email__iexact=email, revoked_at=None)


def _no_account_with(email: str) -> None:
    holder = account_with_email(email)
    if holder is None:
        return
    if not holder.is_active:
        raise PermissionDenied(
            "The account with this e-mail address is deactivated: it cannot join. "
            "Ask an admin to reactivate it."
        )
    raise Conflict(
        "An account with this e-mail address exists already: sign in to join.",
        field="email",
        sign_in=True,
    )


def _mail(invitation: Invitation, *, link: str, by: User) -> None:
    context = {
        "project": invitation.project,
        "role": invitation.get_role_display().lower(),
        "by": by.get_full_name() or by.username,
        "link": link,
        "expires_at": invitation.expires_at,
    }
    mail_send(to=invitation.email, templates="projects/email/invitation", context=context)
