"""Idempotency keys: a write retried under the same key is answered, not applied, again.

The convention of Stripe and of the IETF draft "The Idempotency-Key HTTP Header Field":
the first request under a key runs and its answer is stored with the key, in the same
transaction; a retry with the same key and the same request gets that answer back; the
same key with another request is refused.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from labeler.errors import DomainError, ValidationFailed
from labeler.idempotency.models import IdempotentRequest

MAX_KEY_LENGTH = 255
# Visible ASCII only: a key travels in a header and is compared byte for byte.
_KEY = re.compile(r"[\x21-\x7e]+")


class KeyReused(DomainError):
    """The key was used for another request: a client bug, not a retry."""

    status_code = 422
    code = "idempotency_key_reused"


class KeyInFlight(DomainError):
    """The key's first request has not finished."""

    status_code = 409
    code = "idempotency_key_in_flight"


def idempotency_key_check(key: str) -> str:
    """The key as sent, if it is one; a clear 400 otherwise."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "(a UUID is a good one).",
            field="Idempotency-Key",
        )
    return key


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What a retry must repeat: the method, the path and the body."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency_claim(*, user_id: int, key: str, fingerprint: str) -> IdempotentRequest | None:
    """Take the key for this request (None), or return what a first request under it stored.

    Run inside the transaction of the write. A concurrent first request under the same
    key holds the key's row until it commits: this waits for it, then replays its answer.
    """
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.LABELER_IDEMPOTENCY_SECONDS)
    ops = connection.ops
    table = ops.quote_name(IdempotentRequest._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, {ops.quote_name('key')}, fingerprint, response, "
            "created_at, expires_at) VALUES (%s, %s, %s, '', %s, %s) "
            f"ON CONFLICT (user_id, {ops.quote_name('key')}) DO NOTHING RETURNING id",
            [
                user_id,
                key,
                fingerprint,
                ops.adapt_datetimefield_value(now),
                ops.adapt_datetimefield_value(expires_at),
            ],
        )
        if cursor.fetchone() is not None:
            return None
    stored = IdempotentRequest.objects.select_for_update().get(user_id=user_id, key=key)
    if stored.expires_at <= now:  # expired but not yet purged: the key is free again
        stored.fingerprint, stored.status, stored.response = fingerprint, None, ""
        stored.created_at, stored.expires_at = now, expires_at
        stored.save()
        return None
    if stored.fingerprint != fingerprint:
        raise KeyReused(
            "This Idempotency-Key was used for another request (another path or body); "
            "use a new key for a new request."
        )
    if stored.status is None:
        raise KeyInFlight("The first request with this Idempotency-Key is still running.")
    return stored


def idempotency_record(*, user_id: int, key: str, status: int, response: str) -> None:
    """Store the answer (its status and JSON body) of the request that claimed the key."""
    IdempotentRequest.objects.filter(user_id=user_id, key=key).update(
        status=status, response=response
    )


def idempotency_purge_expired() -> int:
    """Delete keys past their expiry; returns how many went."""
    deleted, _ = IdempotentRequest.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
