"""Login throttling: whose address counts, attempts at once, usernames, a cache that is down.

The client's address is DRF's identification: ``X-Forwarded-For`` is ignored with
``NUM_PROXIES`` = 0 and its right-most entries used behind proxies, so clients behind
one proxy are told apart and none can pick its own address; an IPv6 address counts as
its /64. Attempts sent at once never let more than the limit through to the password
check (a real cache: memory, and Redis when one listens on 127.0.0.1:6379). Spellings of
one username share its count. With the cache pointing at a port nothing listens on
(a real Redis client), logging in and out and the token login still work.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth import aauthenticate, authenticate
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from labeler.http.login_throttle import client_address, username_normalise
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# "MARIA" and "maria" in full-width letters, as an East Asian keyboard may type them.
FULL_WIDTH_UPPER = "\uff2d\uff21\uff32\uff29\uff21"
FULL_WIDTH_LOWER = "\uff4d\uff41\uff52\uff49\uff41"


def login_post(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def with_proxies(settings: Any, count: int) -> None:
    settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "NUM_PROXIES": count}


@pytest.fixture
def maria(db):
    return UserFactory(username="maria", password=PASSWORD)


# --- The client's address ---------------------------------------------------------------


def test_a_forged_forwarded_for_is_ignored_without_proxies():
    """NUM_PROXIES = 0 (the default): the address is REMOTE_ADDR, whatever the header says."""
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6")

    assert client_address(request) == "10.0.0.1"


def test_behind_one_proxy_the_right_most_forwarded_address_is_the_client(settings):
    """NUM_PROXIES = 1: what the proxy appended counts, not what the client wrote before it."""
    with_proxies(settings, 1)
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )

    assert client_address(request) == "203.0.113.7"


def test_an_ipv6_address_counts_as_its_64():
    """Every address of one /64 is one client; IPv4 written as IPv6 is the IPv4 address."""
    factory = RequestFactory()

    assert client_address(factory.get("/", REMOTE_ADDR="2001:db8:1:2::5")) == "2001:db8:1:2::/64"
    assert client_address(factory.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::9")) == (
        "2001:db8:1:2::/64"
    )
    assert client_address(factory.get("/", REMOTE_ADDR="::ffff:192.0.2.1")) == "192.0.2.1"


def test_forged_forwarded_for_headers_do_not_escape_the_lockout(maria):
    """With NUM_PROXIES = 0 a new X-Forwarded-For on every attempt changes nothing."""
    client = Client()
    for n in range(5):
        login_post(client, "maria", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = login_post(client, "maria", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429


def test_forged_forwarded_for_headers_do_not_escape_the_token_rate(maria, monkeypatch):
    """The token login's rate counts per REMOTE_ADDR too (DRF used the raw header before)."""
    # The rates are read into the class when DRF is imported; the test settings' is 1000/min.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"login": "3/min"})
    api = APIClient()
    body = {"username": "maria", "password": PASSWORD}
    for n in range(3):
        response = api.post("/api/v1/auth/token/", body, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 200

    response = api.post("/api/v1/auth/token/", body, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429


def test_two_clients_behind_one_proxy_are_told_apart(maria, settings):
    """NUM_PROXIES = 1: one client's failures refuse it, not the next client of the proxy."""
    with_proxies(settings, 1)
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    guesser = Client(**proxy)
    for n in range(5):
        # Whatever it writes first, the proxy appends the address it really saw.
        login_post(guesser, "maria", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7")

    refused = login_post(guesser, "maria", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7")
    other = login_post(Client(**proxy), "maria", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8")

    assert refused.status_code == 429
    assert other.status_code == 302


# --- Attempts at once --------------------------------------------------------------------


class CountingHasher(MD5PasswordHasher):
    """MD5, as slow as a real hash is, counting the passwords it checks."""

    checked = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher.lock:
            CountingHasher.checked += 1
        time.sleep(0.2)  # a password hash takes a while: time for the others to arrive
        return super().verify(password, encoded)


def redis_listening() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["memory", "redis"])
def shared_cache(request, settings):
    """The cache every thread counts in: the process's memory, or Redis."""
    if request.param == "memory":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"login-throttle-{uuid.uuid4()}",
            }
        }
        return
    if not redis_listening():
        pytest.skip(f"needs Redis at {REDIS_URL}")
    settings.CACHES = {
        "default": {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Its own keys, which expire: other tests sharing this Redis are left alone.
            "KEY_PREFIX": f"test-login-{uuid.uuid4()}",
        }
    }


@pytest.mark.django_db(transaction=True)
def test_attempts_at_once_never_get_more_than_the_limit_to_the_password_check(
    settings, shared_cache
):
    """Twenty wrong passwords sent together: five are checked, the rest refused unhashed."""
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    UserFactory(username="maria", password=PASSWORD)
    CountingHasher.checked = 0
    start = threading.Barrier(20)
    results: list[Any] = []

    def attempt() -> None:
        try:
            request = RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.1")
            start.wait()
            results.append(authenticate(request, username="maria", password="wrong"))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [None] * 20
    assert CountingHasher.checked == 5
    request = RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.1")
    assert authenticate(request, username="maria", password=PASSWORD) is None


# --- Usernames ---------------------------------------------------------------------------


def test_usernames_are_compared_stripped_width_and_case_folded():
    """What a person might type for one name is one name."""
    assert {
        username_normalise(name) for name in ["maria", "Maria ", " MARIA", FULL_WIDTH_UPPER]
    } == {"maria"}


def test_spellings_of_one_username_share_its_count(maria):
    """Five failures under five spellings of "maria", by form and API, lock "maria" out."""
    client, api = Client(), APIClient()
    for name in ["Maria ", FULL_WIDTH_UPPER]:
        assert login_post(client, name, "wrong").status_code == 200
    for name in [" MARIA", FULL_WIDTH_LOWER, "mAria"]:
        body = {"username": name, "password": "wrong"}
        assert api.post("/api/v1/auth/token/", body).status_code == 400

    assert login_post(client, "maria", PASSWORD).status_code == 429


def test_an_empty_username_is_not_the_address_count(maria):
    """Failures across usernames below the address's limit refuse no username, not even ""."""
    client = Client()
    for n in range(5):
        login_post(client, f"user{n}", "wrong")

    response = APIClient().post("/api/v1/auth/token/", {"username": "", "password": "x"})

    assert response.status_code == 400, response.content


def test_the_async_login_path_is_throttled_too(maria):
    """aauthenticate refuses, as authenticate does, after five failures."""
    request = RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.1")
    for _ in range(5):
        assert async_to_sync(aauthenticate)(request, username="maria", password="wrong") is None

    assert async_to_sync(aauthenticate)(request, username="maria", password=PASSWORD) is None
    assert authenticate(request, username="maria", password=PASSWORD) is None


# --- A cache that is down ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cache_down(settings):
    """The cache is a Redis nothing listens for: every call to it fails to connect."""
    settings.CACHES = {
        "default": {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_logging_in_and_out_works_while_the_cache_is_down(maria, cache_down):
    """The login page logs in (302), the session holds, logging out ends it (302)."""
    client = Client()

    assert login_post(client, "maria", PASSWORD).status_code == 302
    assert client.get("/api/v1/projects/").status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/api/v1/projects/").status_code == 401


def test_token_login_works_while_the_cache_is_down(maria, cache_down):
    """The token exchange answers 200, its rate throttle and the lockout let it through."""
    response = APIClient().post("/api/v1/auth/token/", {"username": "maria", "password": PASSWORD})

    assert response.status_code == 200, response.content
    assert response.json()["token"]
