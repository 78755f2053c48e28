"""The Redis cache keeps one redis-py client per pool, across calls and threads, and
that client serves again once a Redis that went away is back."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import caches

SETTINGS = {"socket_connect_timeout": 1, "socket_timeout": 1}


@pytest.fixture
def redis_cache(settings, private_redis):
    settings.CACHES = {
        "default": {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": SETTINGS,
        }
    }
    return caches["default"]


def test_one_client_serves_every_call_and_thread(redis_cache, monkeypatch):
    # Eight threads make their first call at once, and making a pool takes a while:
    # without a lock each thread would make a pool and a client of its own.
    made = []
    from_url = redis.ConnectionPool.from_url.__func__

    def slow_from_url(cls, *args, **kwargs):
        time.sleep(0.05)
        made.append(1)
        return from_url(cls, *args, **kwargs)

    monkeypatch.setattr(redis.ConnectionPool, "from_url", classmethod(slow_from_url))
    redis_cache._cache  # noqa: B018  (the backend, made once as each thread's own is)
    start = threading.Barrier(8)

    def round_trip(n: int) -> object:
        if n < 8:
            start.wait(timeout=10)
        redis_cache.set(f"key-{n}", {"n": n})
        return redis_cache.get(f"key-{n}")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(round_trip, range(200)))
    assert len(made) == 1
    assert answers == [{"n": n} for n in range(200)]
    assert redis_cache.add("key-0", "other") is False
    clients = redis_cache._cache._clients
    assert len(clients) == 1
    [client] = clients.values()
    assert redis_cache._cache.get_client(write=True) is client
    assert redis_cache._cache.get_client(write=False) is client


def test_the_kept_client_serves_again_after_an_outage(redis_cache, private_redis):
    redis_cache.set("before", 1)
    client = redis_cache._cache.get_client()
    private_redis.stop()
    with pytest.raises(redis.ConnectionError):
        redis_cache.get("before")
    private_redis.start()  # a fresh server: nothing kept
    assert redis_cache.get("before") is None
    redis_cache.set("after", 2)
    assert redis_cache.get("after") == 2
    assert redis_cache._cache.get_client() is client
