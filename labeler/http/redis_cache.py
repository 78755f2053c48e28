"""Django's Redis cache, with one redis-py client per connection pool.

Django's backend makes a new ``redis.Redis`` for every cache call: about 0.1 ms of CPU
each (its table of reply callbacks is built anew), as much as the call's own round trip,
and a logged-in request makes one or two such calls (its session, the refresh schedule
of a label change). The client holds no connection of its own (the pool lends one per
command): each thread's cache backend (Django keeps one per thread) makes one and keeps
it, and one shared between threads would serve them all.

Django makes each pool on first use without a lock: two threads starting at once could
each make one, and each keep a client of its own. Here a pool and its client are made
once, under a lock, and found again by the pool's index.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    """Django's client, its ``redis.Redis`` clients made once per pool and kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _get_connection_pool(self, write: bool) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        return self._client_at(index).connection_pool

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        return self._client_at(index)

    def _client_at(self, index: int) -> Any:
        client = self._clients.get(index)
        if client is None:
            with self._lock:
                client = self._clients.get(index)
                if client is None:
                    pool = self._pools.get(index)  # type: ignore[attr-defined]
                    if pool is None:
                        pool = self._pool_class.from_url(  # type: ignore[attr-defined]
                            self._servers[index],  # type: ignore[attr-defined]
                            **self._pool_options,  # type: ignore[attr-defined]
                        )
                        self._pools[index] = pool  # type: ignore[attr-defined]
                    client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
                    self._clients[index] = client
        return client


class RedisCache(django_redis.RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with the client above."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
