"""Refusing logins after repeated failures, per username and address, in the shared cache.

After ``LABELER_LOGIN_MAX_FAILURES`` failed attempts for one username from one address,
that pair is refused for ``LABELER_LOGIN_LOCKOUT_SECONDS`` (counted from the last
failure), even with the right password; a success before then starts the count again.
One address failing for ten times as many attempts across usernames is refused too, so
guessing one password against every account is held back as well. The counts live in
the cache (Redis in production), shared by every web process.

An attempt is counted (an atomic increment) before its password is checked, so attempts
sent at once cannot all pass while the first are still hashing: a count holds the failed
attempts and those in flight, and one over the limit is refused. Usernames are compared
as ``username_normalise`` writes them; addresses are DRF's client identification
(``NUM_PROXIES``), an IPv6 address standing for its /64. While the cache is unreachable
the throttle lets every attempt through (with a warning in the log) rather than
refusing every login.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from labeler import cache_keys

logger = logging.getLogger(__name__)

# How many more failures an address may have than one username from it.
ADDRESS_FACTOR = 10
# The window over which password-reset requests are counted.
RESET_WINDOW_SECONDS = 3600
# What the cache raises when Redis cannot be reached (redis-py wraps socket errors, mostly).
CACHE_ERRORS = (RedisError, OSError)


@dataclass(frozen=True)
class _Scope:
    """One thing counted: a username at an address, or an address across usernames."""

    count_key: str
    lock_key: str
    limit: int


def username_normalise(username: str) -> str:
    """The username as counted: NFKC-normalised, stripped and case-folded ("Maria " is "maria")."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def request_address(request: HttpRequest | Request | None) -> str:
    """The client's address as DRF identifies it (``NUM_PROXIES``), whole; "" if unknown."""
    if request is None:
        return ""
    # get_ident reads only headers and META, which a plain HttpRequest has as well.
    return (BaseThrottle().get_ident(cast(Request, request)) or "")[:64]


def client_address(request: HttpRequest | Request | None) -> str:
    """The client's address as DRF identifies it (``NUM_PROXIES``); an IPv6 one as its /64.

    With ``NUM_PROXIES`` = 0, ``X-Forwarded-For`` is ignored (a client could write
    anything there); with N proxies in front, the address the outermost one saw is used.
    One IPv6 host usually holds a whole /64, so the /64 is what is counted.
    """
    if request is None:
        return "unknown"
    # get_ident reads only headers and META, which a plain HttpRequest has as well.
    ident = BaseThrottle().get_ident(cast(Request, request))
    if not ident:
        return "unknown"
    try:
        ip = ipaddress.ip_address(ident)
    except ValueError:  # not an address (a proxy wrote something else): counted as it is
        return ident
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def login_wait_seconds(*, username: str, address: str) -> int:
    """Seconds until this username may try again from this address (0: it may now)."""
    try:
        return _locked_for(_scopes(username, address), time.time())
    except CACHE_ERRORS:
        logger.warning("Login throttle unavailable: the cache cannot be reached", exc_info=True)
        return 0


def login_attempt_start(*, username: str, address: str) -> int:
    """Count an attempt before its password is checked: 0 to go on, else seconds to wait.

    A refused attempt is not counted. Once an attempt is allowed, one of
    ``login_attempt_failed``, ``login_attempt_succeeded`` or ``login_attempt_withdrawn``
    must follow.
    """
    scopes = _scopes(username, address)
    counted: list[_Scope] = []
    try:
        wait = _locked_for(scopes, time.time())
        if wait:
            return wait
        for scope in scopes:
            count = _increment(scope.count_key)
            counted.append(scope)
            if count > scope.limit:
                # Enough attempts failed or are in flight, the latter most likely to fail
                # and lock it: refused for as long as that lock would last.
                _decrement(counted)
                return settings.LABELER_LOGIN_LOCKOUT_SECONDS
        return 0
    except CACHE_ERRORS:
        logger.warning("Login throttle unavailable: the cache cannot be reached", exc_info=True)
        return 0


def login_attempt_failed(*, username: str, address: str) -> None:
    """The password was wrong: keep the count, and lock what has reached its limit."""
    lockout = settings.LABELER_LOGIN_LOCKOUT_SECONDS
    until = time.time() + lockout
    try:
        for scope in _scopes(username, address):
            # The count lasts as long as a lock would: from the last failure.
            cache.touch(scope.count_key, timeout=lockout)
            if (cache.get(scope.count_key) or 0) >= scope.limit:
                cache.set(scope.lock_key, until, timeout=lockout)
    except CACHE_ERRORS:
        logger.warning("Login failure not counted: the cache cannot be reached", exc_info=True)


def login_attempt_succeeded(*, username: str, address: str) -> None:
    """A success forgets the username's failures at this address; the address's remain."""
    user_scope, address_scope = _scopes(username, address)
    try:
        cache.delete(user_scope.count_key)
        _decrement([address_scope])
    except CACHE_ERRORS:
        logger.warning("Login success not counted: the cache cannot be reached", exc_info=True)


def login_attempt_withdrawn(*, username: str, address: str) -> None:
    """The check itself failed (the database, say): the attempt counts for nothing."""
    try:
        _decrement(list(_scopes(username, address)))
    except CACHE_ERRORS:
        logger.warning("Login attempt not withdrawn: the cache cannot be reached", exc_info=True)


def password_reset_allowed(*, email: str, address: str) -> bool:
    """Count a "forgot password?" request; False once this e-mail address was asked for
    more than ``LABELER_PASSWORD_RESETS_PER_HOUR`` times within the hour, or this client
    address asked ``ADDRESS_FACTOR`` times as many (for any addresses).

    Counted whether or not an account has the e-mail address, so a refusal tells nothing
    about accounts; it keeps the form from being used to flood someone's mailbox. While
    the cache is unreachable every request is let through.
    """
    limit = settings.LABELER_PASSWORD_RESETS_PER_HOUR
    scopes = (
        (
            cache_keys.login_throttle("reset-email", "count", digest(email.strip().casefold())),
            limit,
        ),
        (
            cache_keys.login_throttle("reset-address", "count", digest(address)),
            limit * ADDRESS_FACTOR,
        ),
    )
    try:
        counts = [_increment(key, RESET_WINDOW_SECONDS) for key, _ in scopes]
    except CACHE_ERRORS:
        logger.warning("Reset throttle unavailable: the cache cannot be reached", exc_info=True)
        return True
    return all(count <= most for count, (_, most) in zip(counts, scopes, strict=True))


def lockout_message(seconds: int) -> str:
    """What a refused person reads: how long to wait, in whole minutes."""
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed login attempts; try again in {minutes} {unit}."


def _scopes(username: str, address: str) -> tuple[_Scope, _Scope]:
    limit = settings.LABELER_LOGIN_MAX_FAILURES
    # Hashed: usernames may hold characters a cache key may not.
    user = digest(f"{username_normalise(username)}\0{address}")
    where = digest(address)
    return (
        _Scope(
            cache_keys.login_throttle("user", "count", user),
            cache_keys.login_throttle("user", "until", user),
            limit,
        ),
        _Scope(
            cache_keys.login_throttle("address", "count", where),
            cache_keys.login_throttle("address", "until", where),
            limit * ADDRESS_FACTOR,
        ),
    )


def _locked_for(scopes: tuple[_Scope, ...], now: float) -> int:
    untils: list[Any] = [cache.get(scope.lock_key) for scope in scopes]
    return max([0, *(math.ceil(until - now) for until in untils if until is not None)])


def _increment(key: str, seconds: int | None = None) -> int:
    timeout = settings.LABELER_LOGIN_LOCKOUT_SECONDS if seconds is None else seconds
    return window_count_add(key, seconds=timeout)


def window_count_add(key: str, *, seconds: int) -> int:
    """Add one to the count kept under ``key`` in the shared cache, which starts at the
    first and ends ``seconds`` later; returns the count. Raises ``CACHE_ERRORS``."""
    # add() is a no-op when the key exists; incr() is Redis's atomic INCR.
    cache.add(key, 0, timeout=seconds)
    try:
        return int(cache.incr(key))
    except ValueError:  # it expired between the two calls: this one is its first
        cache.set(key, 1, timeout=seconds)
        return 1


def digest(text: str) -> str:
    """What the cache's keys hold of a name or an address: its SHA-256, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def _decrement(scopes: list[_Scope]) -> None:
    for scope in scopes:
        # A count that expired meanwhile has nothing left to take back.
        with contextlib.suppress(ValueError):
            cache.decr(scope.count_key)
