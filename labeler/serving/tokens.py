"""Prediction tokens: keys that may only request predictions, of one project.

A key is ``lbp_`` and 32 random bytes (URL-safe base64); it is returned once, by
``predict_token_issue``, and only its sha256 is stored. The API recognises it only on the
prediction routes (``api/serving_auth.py``), so a key that leaks can classify images of
its project and do nothing else; revoking it ends even that.

A token also ends when the person who issued it no longer manages the project (removed,
no longer a lead, deactivated, their account deleted): its key was shown to them, and a
person who has left keeps no way in. That is decided where the token is used
(``predict_token_ended``), by the projects' own rule of who manages a project, so every
way of leaving ends it, and it lives again if they come back as a lead. A deployment's
token is best issued from an account that stays.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from labeler import text_in
from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.errors import NotFound, ValidationFailed
from labeler.projects.accounts import account_by_id
from labeler.projects.models import Project
from labeler.projects.selectors import manages_now
from labeler.raw_rows import raw_first
from labeler.serving.models import PredictToken

KEY_PREFIX = "lbp_"
# Writing the last use on every request would cost a write per prediction: once a minute
# is as much as the tokens' page can show.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued, with its key (never stored, never shown again)."""

    token: PredictToken
    key: str


def key_sha256(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def predict_token_issue(*, project: Project, name: str, created_by: User | None) -> IssuedToken:
    """Issue a prediction token for the project; the key is in the result only."""
    cleaned = name.strip()
    text_in.text_refuse_unsafe(cleaned, field="name")
    if not cleaned or len(cleaned) > 100:
        raise ValidationFailed("A token needs a name of 1 to 100 characters.", field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = PredictToken.objects.create(
        project=project,
        name=cleaned,
        key_sha256=key_sha256(key),
        prefix=key[: len(KEY_PREFIX) + 6],
        created_by=created_by,
    )
    audit_record(
        action=Action.TOKEN_ISSUED,
        actor=created_by,
        project=project,
        target=("predict_token", token.pk, f"{cleaned} ({token.prefix}...)"),
        details={"name": cleaned, "prefix": token.prefix},
    )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def predict_token_revoke(*, project: Project, token_id: int) -> PredictToken:
    """Revoke the project's token (revoking it twice keeps the first time)."""
    token = PredictToken.objects.select_for_update().filter(pk=token_id, project=project).first()
    if token is None:
        raise NotFound(f"Prediction token {token_id} does not exist.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action=Action.TOKEN_REVOKED,
            project=project,
            target=("predict_token", token.pk, f"{token.name} ({token.prefix}...)"),
            details={"name": token.name, "prefix": token.prefix},
        )
    return token


class TokenEnded(Exception):
    """A token that is not revoked but no longer works: why (``predict_token_ended``)."""


ISSUER_GONE = "The account that issued this token no longer exists."
ISSUER_INACTIVE = "The account that issued this token is deactivated."
ISSUER_NOT_LEAD = "The person who issued this token no longer manages the project."


def predict_token_ended(token: PredictToken) -> str:
    """Why the token no longer works, or "" while it does: revoked, or its issuer no
    longer manages its project (the projects' rule, read now)."""
    if token.revoked_at is not None:
        return "Revoked."
    issuer = token.created_by
    if issuer is None:
        return ISSUER_GONE
    if not issuer.is_active:
        return ISSUER_INACTIVE
    return "" if manages_now(user=issuer, project=token.project) else ISSUER_NOT_LEAD


def predict_token_authenticate(*, key: str) -> PredictToken | None:
    """The live token with this key (its last use noted), or None: unknown or revoked.
    Raises TokenEnded, with why, for a token whose issuer no longer manages the project."""
    if not key.startswith(KEY_PREFIX):
        return None
    # Fixed statements, each row made by labeler.raw_rows: the ORM's join of the token,
    # its project and its issuer cost a millisecond of CPU a prediction to build and read.
    token = raw_first(PredictToken, _statement("live", connection.vendor), [key_sha256(key)])
    if token is None:
        return None
    project = raw_first(Project, _statement("project", connection.vendor), [token.project_id])
    if project is None:  # deleted since, with its tokens
        return None
    token.project = project
    token.created_by = None if token.created_by_id is None else account_by_id(token.created_by_id)
    ended = predict_token_ended(token)
    if ended:
        raise TokenEnded(ended)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        PredictToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@functools.cache
def _statement(which: str, vendor: str) -> str:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    if which == "live":
        table = connection.ops.quote_name(PredictToken._meta.db_table)
        return f"SELECT * FROM {table} WHERE key_sha256 = %s AND revoked_at IS NULL"
    return f"SELECT * FROM {connection.ops.quote_name(Project._meta.db_table)} WHERE id = %s"
