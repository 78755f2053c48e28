"""Django's Redis cache, with one redis-py client per connection pool.

Django's backend makes a new ``redis.Redis`` for every cache call: about 0.1 ms of CPU
each (its table of reply callbacks is built anew), as much as the call's own round trip,
and a logged-in request makes one or two such calls (its session, the refresh schedule
of a label change). The client holds no connection of its own (the pool lends one per
command): each thread's cache backend (Django keeps one per thread) makes one and keeps
it, and one shared between threads would serve them all.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    """Django's client, its ``redis.Redis`` clients made once per pool and kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            # Two threads may both make one here: either serves, the last one is kept.
            client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
            self._clients[id(pool)] = client
        return client


class RedisCache(django_redis.RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with the client above."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
