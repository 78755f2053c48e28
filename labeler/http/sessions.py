"""Sessions read from the cache and written through to the database, cache outages included.

Django's ``cached_db`` store falls back to the database when reading the cache fails, but
not when refilling it afterwards, nor when asking whether a key exists (every login, for
its new key) or deleting (every login and logout): with the cache down, each of these
would fail the request. Here they are best effort, as writing already is in Django's
store (its ``save`` logs a cache failure and goes on). A session deleted while the cache
is unreachable but not emptied stays in it until it expires.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends import cached_db, db

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

    def exists(self, session_key: str | None) -> bool:
        """Whether the key is taken: in the cache, else (or while it is down) in the database."""
        if session_key:
            try:
                if (self.cache_key_prefix + session_key) in self._cache:  # type: ignore[attr-defined]
                    return True
            except Exception:
                logger.warning("Session cache not checked: it is unavailable", exc_info=True)
        return db.SessionStore.exists(self, session_key)  # type: ignore[arg-type]

    def delete(self, session_key: str | None = None) -> None:
        """Delete the session from the database, and from the cache when it can be reached."""
        db.SessionStore.delete(self, session_key)
        key = session_key if session_key is not None else self.session_key
        if key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + key)  # type: ignore[attr-defined]
        except Exception:
            logger.warning("Session not removed from the cache: it is unavailable", exc_info=True)
