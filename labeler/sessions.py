"""Sessions read from the cache and written through to the database, cache outages included.

Django's ``cached_db`` store falls back to the database when reading the cache fails, but
not when refilling it afterwards: with the cache down, every logged-in request would
fail. Here refilling is best effort, as writing already is in Django's store.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends import cached_db

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(cached_db.SessionStore):
    """Django's cached_db store, serving from the database while the cache is down."""

    # The stubs lack cached_db's private members (_cache, _get_session_from_db).
    def load(self) -> dict[str, Any]:
        cache: Any = self._cache  # type: ignore[attr-defined]
        try:
            data = cache.get(self.cache_key)
        except Exception:  # as Django's own load: any cache failure means "not cached"
            data = None
        if data is not None:
            return dict(data)
        stored = self._get_session_from_db()  # type: ignore[attr-defined]
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:
            logger.warning("Session not cached: the cache is unavailable", exc_info=True)
        return dict(data)
