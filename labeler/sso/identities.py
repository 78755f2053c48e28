"""Who a provider's account is here: found by its ``sub`` claim, made on first login.

An account is matched by the provider's issuer and ``sub`` claim only, never by e-mail,
unless ``LABELER_OIDC_LINK_BY_EMAIL`` is on: a provider that lets people set their own
address (or a second provider) would otherwise hand anyone a local account, an admin's
included, by claiming its e-mail. With the setting on, an address the provider says it
has verified (``email_verified``) and that an account here has confirmed
(``projects.addresses``) is linked once, to that account. An address the provider says it
verified is confirmed for the account it signs in (unless another account confirmed it).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeler.errors import Conflict
from labeler.projects import accounts, addresses
from labeler.projects.models import AddressConfirmed
from labeler.sso.models import OidcIdentity
from labeler.sso.roles import roles_sync
from labeler.text_in import data_refuse_unsafe

USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


def identity_login(*, issuer: str, claims: dict[str, Any]) -> User:
    """The user these claims name (made on first login), with their details and roles updated.

    Raises SuspiciousOperation for an unusable ``sub``, and ValidationFailed (the sign-in
    page's 400) for claims holding NUL or a lone surrogate (a name or a group a provider's
    user may set themselves), which no database text can hold.
    """
    data_refuse_unsafe(claims, field="claims")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise SuspiciousOperation("The provider sent no usable subject (sub) claim.")
    with transaction.atomic():
        identity = (
            OidcIdentity.objects.select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            user = _linked_by_email(claims) or _user_create(claims)
            try:
                with transaction.atomic():
                    identity = OidcIdentity.objects.create(
                        user=user, issuer=issuer, subject=subject
                    )
            except IntegrityError as exc:  # a first sign-in of the same account at once
                raise Conflict("This account is being signed in already; try again.") from exc
        user = identity.user
        _details_update(user, claims)
        if claims.get("email_verified") is True and user.email == _email(claims):
            addresses.email_mark_verified(user=user, how=AddressConfirmed.SSO, by=user)
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
        if user.is_active:
            roles_sync(user=user, groups=claim_groups(claims))
    return user


def claim_groups(claims: dict[str, Any]) -> list[str]:
    """The group names in the claim ``LABELER_OIDC_GROUPS_CLAIM`` (a list, or one string)."""
    value = claims.get(settings.LABELER_OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [group for group in value if isinstance(group, str)]


def _linked_by_email(claims: dict[str, Any]) -> User | None:
    email = claims.get("email")
    if not (settings.LABELER_OIDC_LINK_BY_EMAIL and claims.get("email_verified") is True):
        return None
    if not isinstance(email, str) or not email:
        return None
    holder = addresses.person_by_verified_email(email)
    if holder is None or holder.oidc_identities.exists():
        return None
    return holder


def _user_create(claims: dict[str, Any]) -> User:
    first, last = _names(claims)
    base = _username_base(claims)
    for attempt in range(100):
        username = base if attempt == 0 else f"{base[:140]}-{attempt + 1}"
        if User.objects.filter(username__iexact=username).exists():
            continue
        try:
            with transaction.atomic():
                return accounts.account_create(
                    username=username,
                    email=_email(claims),
                    first_name=first,
                    last_name=last,
                    email_required=False,
                )
        except IntegrityError:  # taken meanwhile: the next suffix
            continue
    raise SuspiciousOperation("No free username for this account.")


def _username_base(claims: dict[str, Any]) -> str:
    for name in (claims.get("preferred_username"), _email(claims).split("@")[0], "user"):
        if isinstance(name, str):
            name = USERNAME_UNSAFE.sub("", name)[:150]
            if name:
                return name
    return "user"


def _email(claims: dict[str, Any]) -> str:
    """The e-mail claim when it is an address, else nothing (the account is made without)."""
    email = claims.get("email")
    if not isinstance(email, str):
        return ""
    try:
        validate_email(email.strip())
    except ValidationError:
        return ""
    return email.strip()


def _names(claims: dict[str, Any]) -> tuple[str, str]:
    first, last = claims.get("given_name"), claims.get("family_name")
    if not isinstance(first, str) and isinstance(claims.get("name"), str):
        first, _, last = claims["name"].strip().partition(" ")
    return (
        first.strip()[:150] if isinstance(first, str) else "",
        last.strip()[:150] if isinstance(last, str) else "",
    )


def _details_update(user: User, claims: dict[str, Any]) -> None:
    first, last = _names(claims)
    email = _email(claims)
    changed = [
        field
        for field, value in (("email", email), ("first_name", first), ("last_name", last))
        if value and getattr(user, field) != value
    ]
    for field in changed:
        setattr(user, field, {"email": email, "first_name": first, "last_name": last}[field])
    if changed:
        user.save(update_fields=changed)
