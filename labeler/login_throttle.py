"""Refusing logins after repeated failures, per username and address, in the shared cache.

After ``LABELER_LOGIN_MAX_FAILURES`` failed attempts for one username from one address,
that pair is refused for ``LABELER_LOGIN_LOCKOUT_SECONDS`` (counted from the last
failure), even with the right password; a success before then starts the count again.
One address failing for ten times as many attempts across usernames is refused too, so
guessing one password against every account is held back as well. The counts live in
the cache (Redis in production), shared by every web process.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

# How many more failures an address may have than one username from it.
ADDRESS_FACTOR = 10


def client_address(request: HttpRequest | None) -> str:
    """The address the request came from (the proxy's, unless the proxy rewrites it)."""
    if request is None:
        return "unknown"
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def login_wait_seconds(*, username: str, address: str) -> int:
    """Seconds until this username may try again from this address (0: it may now)."""
    limit = settings.LABELER_LOGIN_MAX_FAILURES
    now = time.time()
    waits = [
        _wait(cache.get(_key(username, address)), limit, now),
        _wait(cache.get(_key("", address)), limit * ADDRESS_FACTOR, now),
    ]
    return max(waits)


def login_failure_record(*, username: str, address: str) -> None:
    """Count one failed attempt for the username at this address, and for the address."""
    lockout = settings.LABELER_LOGIN_LOCKOUT_SECONDS
    now = time.time()
    for key in (_key(username, address), _key("", address)):
        count, _ = cache.get(key) or (0, now)
        cache.set(key, (count + 1, now + lockout), timeout=lockout)


def login_failures_clear(*, username: str, address: str) -> None:
    """A successful login forgets the username's failures at this address."""
    cache.delete(_key(username, address))


def lockout_message(seconds: int) -> str:
    """What a refused person reads: how long to wait, in whole minutes."""
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed login attempts; try again in {minutes} {unit}."


def _wait(entry: tuple[int, float] | None, limit: int, now: float) -> int:
    if entry is None:
        return 0
    count, until = entry
    return max(0, math.ceil(until - now)) if count >= limit else 0


def _key(username: str, address: str) -> str:
    # Hashed: usernames may hold characters a cache key may not.
    digest = hashlib.sha256(f"{username.casefold()}\0{address}".encode()).hexdigest()
    return f"labeler:login-failures:{digest}"
