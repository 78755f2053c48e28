"""Holding back the join page: accounts made from one client, and guessed invitation links.

Each client address (as ``login_throttle.client_address`` identifies it) may send
``LABELER_JOINS_PER_HOUR`` join forms an hour by live invitations, and open
``LABELER_JOIN_MISSES_PER_HOUR`` invitation links that no invitation has; past the
latter, a link no invitation has is answered 429 for the rest of the hour instead of 404.
A link an invitation has is never refused for the misses: one person's typos do not lock
everyone behind the same address out of their own invitations, and a 43-character random
token is not found by guessing, however many tries are let through. The counts live in
the shared cache; while it cannot be reached every request is let through (with a
warning in the log), as the login throttle does.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from labeler import cache_keys
from labeler.http.login_throttle import CACHE_ERRORS, digest, window_count_add

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
REFUSED_MESSAGE = "Too many attempts to join from here; try again in an hour."


def join_misses_exceeded(*, address: str) -> bool:
    """Whether this client opened too many links no invitation has this hour."""
    try:
        return _count(_key("join-miss", address)) >= settings.LABELER_JOIN_MISSES_PER_HOUR
    except CACHE_ERRORS:
        logger.warning("Join throttle unavailable: the cache cannot be reached", exc_info=True)
        return False


def join_post_allowed(*, address: str) -> bool:
    """Whether this client may send another join form now; the form is counted."""
    try:
        return _increment(_key("join-post", address)) <= settings.LABELER_JOINS_PER_HOUR
    except CACHE_ERRORS:
        logger.warning("Join throttle unavailable: the cache cannot be reached", exc_info=True)
        return True


def join_token_missed(*, address: str) -> None:
    """Count a link no invitation has, opened or sent from this client."""
    try:
        _increment(_key("join-miss", address))
    except CACHE_ERRORS:
        logger.warning("Join miss not counted: the cache cannot be reached", exc_info=True)


def _key(scope: str, address: str) -> str:
    return cache_keys.login_throttle(scope, "count", digest(address))


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def _increment(key: str) -> int:
    return window_count_add(key, seconds=WINDOW_SECONDS)
