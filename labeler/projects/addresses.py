"""Which account an e-mail address belongs to: the one that confirmed it.

An address typed by whoever makes an account (on a link's join page) proves nothing: it
is trusted only once it is confirmed, in one of four ways, each recorded here
(``VerifiedAddress``, this module its only writer) and in the audit trail:

- **owner**: its owner opened the confirmation link e-mailed to it (``email_verify_send``,
  ``email_confirm``);
- **invitation**: they took an invitation that was e-mailed to it;
- **sso**: the identity provider says it verified it (``email_verified``);
- **admin**: an admin set it on the account (on the team page, the admin site or the API).

A verified address counts while it is the account's address: changed since, the account
has none until the new one is confirmed. One address is verified for one account at
most: a second account with it is never matched by it. Until an address is verified
it matches nobody in an import, owns no invitation by e-mail and blocks no one's
sign-up; every path that asks "whose is this address" asks ``person_by_verified_email``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import Conflict, PermissionDenied, ValidationFailed
from labeler.projects.mail import LinkSent, mail_send
from labeler.projects.models import AddressConfirmed, VerifiedAddress

_SALT = "labeler.projects.addresses.confirm"


def _verified_rows() -> QuerySet[VerifiedAddress]:
    """Verified addresses that are still their account's address (case aside)."""
    return VerifiedAddress.objects.annotate(
        _folded=Lower("email"), _current=Lower("user__email")
    ).filter(_folded=F("_current"))


def person_by_verified_email(email: str) -> User | None:
    """The account that confirmed this address (case aside), if any."""
    email = (email or "").strip()
    if not email:
        return None
    row = _verified_rows().filter(email__iexact=email).select_related("user").first()
    return row.user if row is not None else None


def email_verified(user: User) -> bool:
    """Whether the account's address is confirmed."""
    if not user.email:
        return False
    return _verified_rows().filter(user=user).exists()


def verified_emails(user_ids: Iterable[int]) -> dict[int, str]:
    """The confirmed address of each of these accounts that has one, by account id."""
    rows = _verified_rows().filter(user_id__in=list(user_ids))
    return dict(rows.values_list("user_id", "user__email"))


@transaction.atomic
def email_mark_verified(*, user: User, how: str, by: User | None = None) -> bool:
    """Record the account's current address as confirmed ``how`` (``AddressConfirmed``);
    False when it has none or another account confirmed it first (then it stays
    unverified). ``by``: who confirmed it, for the audit entry (else the request's user)."""
    email = (user.email or "").strip()
    if not email or email_verified(user):
        return bool(email)
    holder = person_by_verified_email(email)
    if holder is not None and holder.pk != user.pk:
        return False
    # A row kept for an address its account no longer has is no one's: it gives way.
    VerifiedAddress.objects.filter(email__iexact=email).exclude(user=user).delete()
    try:
        with transaction.atomic():
            VerifiedAddress.objects.update_or_create(
                user=user, defaults={"email": email, "how": how, "verified_at": timezone.now()}
            )
    except IntegrityError:  # confirmed for another account at this very moment
        return False
    audit_record(
        action=Action.EMAIL_VERIFIED,
        actor=by,
        target=("user", user.pk, user.username),
        details={"email": email, "how": how},
    )
    return True


def email_set_by_admin(*, user: User, by: User | None = None) -> None:
    """An admin set the account's address (made it, or changed it): it is confirmed, by
    them. Refuses (Conflict) an address another account confirmed."""
    holder = person_by_verified_email(user.email)
    if holder is not None and holder.pk != user.pk:
        raise Conflict(
            f"{user.email} is the confirmed address of {holder.username}: an address "
            "belongs to one account.",
            field="email",
        )
    email_mark_verified(user=user, how=AddressConfirmed.ADMIN, by=by)


def confirmation_link(*, user: User, base_url: str) -> str:
    """The absolute address that confirms the account's current address, valid for
    ``PASSWORD_RESET_TIMEOUT`` and only while the account has that address."""
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=_SALT, compress=True)
    return base_url.rstrip("/") + reverse("email-confirm", kwargs={"token": token})


def email_verify_send(*, user: User, base_url: str) -> LinkSent:
    """E-mail the account's address a link that confirms it.

    Raises ValidationFailed when the account has no address, MailFailed when the mail
    server refuses.
    """
    if not user.email:
        raise ValidationFailed(f"{user.username} has no e-mail address to confirm.", field="email")
    link = confirmation_link(user=user, base_url=base_url)
    context = {"user": user, "link": link, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600}
    mail_send(to=user.email, templates="team/email/confirm", context=context)
    return LinkSent(email=user.email, link=link)


def email_confirm(*, token: str, by: User) -> User:
    """Confirm the address a link was sent to, for ``by``, signed in as the account the
    link is for (whoever reads the mail must also hold the account: an address typed
    into someone else's sign-up is not confirmed by its owner's click); returns it.

    Raises ValidationFailed for a link that is malformed, expired, for an address the
    account no longer has, or for one another account confirmed first; PermissionDenied
    when ``by`` is another account.
    """
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.SignatureExpired as exc:
        raise ValidationFailed("This confirmation link has expired: ask for a new one.") from exc
    except signing.BadSignature as exc:
        raise ValidationFailed("This confirmation link is not valid: copy it whole.") from exc
    user = User.objects.filter(pk=data.get("u"), is_active=True).first()
    if user is not None and user.pk != by.pk:
        raise PermissionDenied(
            f"This link confirms the address of another account than yours ({by.username}): "
            "sign in as the account that asked for it, or ignore it if none is yours."
        )
    if user is None or (user.email or "").casefold() != str(data.get("e", "")).casefold():
        raise ValidationFailed(
            "This link confirms an address the account no longer has: ask for a new one."
        )
    if not email_mark_verified(user=user, how=AddressConfirmed.OWNER, by=user):
        raise ValidationFailed(
            f"{user.email} is confirmed for another account already: it cannot be yours too."
        )
    return user
