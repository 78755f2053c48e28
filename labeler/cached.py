"""Results kept in the shared cache, computed afresh while the cache cannot be reached.

The cache (Redis in production) only saves work: a page that reads a cached report must
still answer while Redis is down, as logging in and labelling do (``labeler.http.sessions``,
``labeler.http.login_throttle``). A read that fails counts as a miss and the result is
computed without trying to store it (one connection timeout a call, not two); a write
that fails is logged and the computed result returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a cache call raises while Redis cannot be reached (refused, timed out, reset).
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)

T = TypeVar("T")


def cached(key: str, compute: Callable[[], T], seconds: int) -> T:
    """The value cached under ``key``, else ``compute()``, stored for ``seconds``."""
    try:
        value = cache.get(key)
    except CACHE_ERRORS as exc:
        logger.warning("Cache not read for %s (%s): computed afresh", key, exc)
        return compute()
    if value is not None:
        return value
    value = compute()
    try:
        cache.set(key, value, seconds)
    except CACHE_ERRORS as exc:
        logger.warning("Cache not written for %s (%s)", key, exc)
    return value
