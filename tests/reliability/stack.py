"""The application's server on private services, for the fault tests.

``bench.load_stack`` starts it as production runs it (gunicorn, DEBUG off); this module
prepares the database it serves (migrated, one administrator with an API token) and
sends requests that never hang (short timeouts, every failure recorded).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bench.load_stack import ROOT, static_collect

ADMIN = "fault-admin"
PASSWORD = "fault-admin-password"
STATIC_ROOT = ROOT / "var" / "reliability" / "static"  # collected once, shared by the tests


def served_database_url() -> str:
    """The URL of the test database this process uses, for a server to share it."""
    from django.db import connection

    found = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{found['NAME']}"
    user = found["USER"] or "postgres"
    password = f":{found['PASSWORD']}" if found["PASSWORD"] else ""
    host = found["HOST"] or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{found['PORT'] or 5432}/{found['NAME']}"


def manage(env: dict[str, str], *arguments: str, timeout: float = 180) -> str:
    """Run manage.py with the server's environment; its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def database_prepare(env: dict[str, str]) -> str:
    """Migrate the server's database and create the administrator; their API token.

    Pages need the static files' manifest (DEBUG off): collected once into ``var/``.
    """
    env["STATIC_ROOT"] = str(STATIC_ROOT)
    static_collect(env)
    manage(env, "migrate", "--verbosity", "0")
    code = (
        "from django.contrib.auth.models import User\n"
        "from rest_framework.authtoken.models import Token\n"
        f"user = User.objects.create_superuser({ADMIN!r}, '', {PASSWORD!r})\n"
        "print(Token.objects.create(user=user).key)\n"
    )
    return manage(env, "shell", "--no-imports", "-c", code).strip().splitlines()[-1]


@dataclass(frozen=True)
class Answer:
    """One request's outcome: status (0 for no answer), body, headers and how long it took."""

    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float
    at: float  # time.monotonic() when it was sent

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str,
    path: str,
    *,
    token: str = "",
    payload: Any = None,
    timeout: float = 10,
) -> Answer:
    """One request with a fresh connection; a refused connection or timeout is status 0."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base_url + path, data=data, headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, body, got = error.code, error.read(), dict(error.headers)
    except OSError as error:
        status, body, got = 0, str(error).encode(), {}
    return Answer(status, body, got, time.monotonic() - started, started)
