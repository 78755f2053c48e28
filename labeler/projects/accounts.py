"""People's accounts: created by admins, invited by a link that sets the password,
deactivated and reactivated, sent a password-reset link.

The links are Django's own: a user id in base 64 and a token for the
``password-reset-confirm`` page, made and checked by ``password_link_tokens`` (every
link, whether an invitation, an admin's reset or "forgot password", and the page that
takes them). A token is bound to the account's password hash, last login, whether it
is active and when its links were last revoked (``account_set_active`` revokes them on
every deactivation), so it stops working once used (the password changed), once the
account is deactivated (for good: reactivating it does not revive an earlier link), and
after ``PASSWORD_RESET_TIMEOUT``. An invited account has no usable
password until its owner chooses one; Django's "forgot password" form ignores such
accounts, which is why an invitation is sent from here and not through that form.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import Conflict, ValidationFailed
from labeler.projects import addresses
from labeler.projects.mail import LinkSent, mail_send
from labeler.projects.models import AccountLinks, AddressConfirmed, Invitation
from labeler.raw_rows import raw_first

INVITE, RESET = "invite", "reset"
USERNAME_CHARS = "letters, digits and @ . + - _"


class PasswordLinkTokens(PasswordResetTokenGenerator):
    """Django's password-link tokens, bound to whether the account is active and to when
    its links were last revoked: a link sent before the account was deactivated sets no
    password, neither while it is nor once it is reactivated."""

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        revoked = (
            AccountLinks.objects.filter(user=user).values_list("revoked_at", flat=True).first()
        )
        revoked_at = "" if revoked is None else revoked.isoformat()
        return f"{super()._make_hash_value(user, timestamp)}:{user.is_active}:{revoked_at}"


password_link_tokens = PasswordLinkTokens()


def password_link(*, user: User, base_url: str) -> str:
    """The absolute address where ``user`` sets a password, valid until it is used."""
    path = reverse(
        "password-reset-confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": password_link_tokens.make_token(user),
        },
    )
    return base_url.rstrip("/") + path


def account_create(
    *,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = False,
    email_required: bool = True,
    invitation: Invitation | None = None,
    confirmed: str = "",
) -> User:
    """A new active account without a usable password (its owner sets one by the invitation,
    or signs in through the identity provider: ``email_required`` off, for single sign-on).

    ``invitation``: the project invitation it is made from (someone signing up by its
    link, who is then the audit entry's actor). ``confirmed``: how the address is known
    to be the account's (``AddressConfirmed``: an admin typed it), else "" and it stays
    unconfirmed (``labeler.projects.addresses``).

    Raises ValidationFailed for a bad username or e-mail, Conflict when the username is taken.
    """
    username = username.strip()
    email = email.strip()
    _username_check(username)
    if email or email_required:
        _email_check(email)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise Conflict(f"The username {username!r} is taken.", field="username")
        user = User(
            username=username,
            email=email,
            first_name=first_name.strip()[:150],
            last_name=last_name.strip()[:150],
            is_staff=is_staff,
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:  # the same name made by another request meanwhile
            raise Conflict(f"The username {username!r} is taken.", field="username") from exc
        _created_record(user, invitation=invitation)
        _address_confirmed(user, confirmed)
    return user


def account_create_with_password(*, password: str, **fields: Any) -> User:
    """A new active account with the password given (already validated by the caller), made
    by an admin: its address, if any, is confirmed by them."""
    with transaction.atomic():
        user = User.objects.create_user(password=password, **fields)
        _created_record(user)
        _address_confirmed(user, AddressConfirmed.ADMIN)
    return user


def account_add(*, user: User) -> User:
    """Save an account built by Django's admin add form (its password set already); its
    address, if any, is confirmed by the admin."""
    with transaction.atomic():
        user.save()
        _created_record(user)
        _address_confirmed(user, AddressConfirmed.ADMIN)
    return user


def _address_confirmed(user: User, how: str) -> None:
    if not (how and user.email):
        return
    if how == AddressConfirmed.ADMIN:
        addresses.email_set_by_admin(user=user)
    else:
        addresses.email_mark_verified(user=user, how=how, by=user)


def _created_record(user: User, *, invitation: Invitation | None = None) -> None:
    """The account's creation, by the signed-in admin, or by its owner from an invitation."""
    details: dict[str, Any] = {
        "after": {"is_staff": user.is_staff, "is_superuser": user.is_superuser}
    }
    if invitation is not None:
        details["invitation"] = invitation.pk
    audit_record(
        action=Action.ACCOUNT_CREATED,
        actor=user if invitation is not None else None,
        project=invitation.project if invitation is not None else None,
        target=("user", user.pk, user.username),
        details=details,
    )


def account_flags_changed(*, user: User, before: dict[str, bool]) -> None:
    """Record a change of an account's staff or admin flags (``before``: the flags as
    they were; the user holds them as they are), in the change's transaction."""
    after = {name: bool(getattr(user, name)) for name in before}
    if after != before:
        audit_record(
            action=Action.ACCOUNT_FLAGS_CHANGED,
            target=("user", user.pk, user.username),
            details={"before": before, "after": after},
        )


def account_link_send(*, user: User, base_url: str, kind: str = INVITE) -> LinkSent:
    """E-mail ``user`` a link to set a password: an invitation or a password reset.

    Raises ValidationFailed when the account has no e-mail address or is deactivated.
    """
    if kind not in (INVITE, RESET):
        raise ValidationFailed(f"kind must be {INVITE} or {RESET}, not {kind!r}.", field="kind")
    if not user.is_active:
        raise ValidationFailed(
            f"{user.username} is deactivated: reactivate the account first.", field="user"
        )
    if not user.email:
        raise ValidationFailed(
            f"{user.username} has no e-mail address to send the link to.", field="email"
        )
    link = password_link(user=user, base_url=base_url)
    context = {"user": user, "link": link, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600}
    mail_send(to=user.email, templates=f"team/email/{kind}", context=context)
    return LinkSent(email=user.email, link=link)


def account_set_active(*, user: User, active: bool, by: User) -> User:
    """Deactivate (no login, no API token, no session) or reactivate an account.

    Raises ValidationFailed when an admin would deactivate their own account.
    """
    if not active and user.pk == by.pk:
        raise ValidationFailed("You cannot deactivate your own account.", field="is_active")
    with transaction.atomic():
        if user.is_active != active:
            user.is_active = active
            user.save(update_fields=["is_active"])
            audit_record(
                action=Action.ACCOUNT_ACTIVE_CHANGED,
                actor=by,
                target=("user", user.pk, user.username),
                details={"before": not active, "after": active},
            )
        if not active:  # every link sent so far dies, whatever happens to the account later
            AccountLinks.objects.update_or_create(
                user=user, defaults={"revoked_at": timezone.now()}
            )
    return user


def account_set_staff(*, user: User, staff: bool) -> User:
    """Make ``user`` a server admin (``is_staff``) or no longer one (recorded in the audit
    trail with the flag before and after)."""
    if user.is_staff != staff:
        before = {"is_staff": user.is_staff}
        with transaction.atomic():
            user.is_staff = staff
            user.save(update_fields=["is_staff"])
            account_flags_changed(user=user, before=before)
    return user


def _username_check(username: str) -> None:
    validator = User.username_validator
    if not username:
        raise ValidationFailed("The username is empty.", field="username")
    if len(username) > 150:
        raise ValidationFailed("The username is longer than 150 characters.", field="username")
    try:
        validator(username)
    except Exception as exc:  # django ValidationError: say it in our words
        raise ValidationFailed(
            f"A username holds only {USERNAME_CHARS}.", field="username"
        ) from exc


def _email_check(email: str) -> None:
    if not email:
        raise ValidationFailed("An e-mail address is needed to send the invitation.", field="email")
    try:
        validate_email(email)
    except Exception as exc:
        raise ValidationFailed(f"{email!r} is not an e-mail address.", field="email") from exc


def account_by_id(pk: int) -> User | None:
    """The account with this id, active or not, or None: one fixed statement, made into a
    user by ``labeler.raw_rows`` (the session's user on every request, a prediction
    token's issuer on every prediction: the ORM's query cost several times its read)."""
    return raw_first(User, _by_id_statement(connection.vendor), [pk])


@functools.cache
def _by_id_statement(vendor: str) -> str:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    return f"SELECT * FROM {connection.ops.quote_name(User._meta.db_table)} WHERE id = %s"
