"""The server log says each refused request once: one warning line, one traceback.

Django's own logging (a console handler on the ``django`` logger while DEBUG is on) and
ours (a console handler on the root logger) both printed a record the ``django`` logger
propagates, so under ``make run`` every 403, 404 and 400 came out twice. The check runs in
a process of its own, so that the handlers write to the stderr it reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Settings as `make run` has them (DEBUG on); views that refuse as the application's do.
SCRIPT = textwrap.dedent(
    """
    import os
    import django
    from django.core.exceptions import BadRequest, PermissionDenied
    from django.http import Http404
    from django.urls import path

    def forbidden(request):
        raise PermissionDenied("not a member of this project")

    def missing(request):
        raise Http404("no such image")

    def bad(request):
        raise BadRequest("the cursor is not one this page made")

    django.setup()
    from labeler.urls import handler404, handler500, urlpatterns as app_urls

    urlpatterns = [
        path("forbidden/", forbidden), path("missing/", missing), path("bad/", bad), *app_urls
    ]
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ROOT_URLCONF = "__main__"
    client = Client(raise_request_exception=True)
    for url, status in (("/forbidden/", 403), ("/missing/", 404), ("/bad/", 400)):
        code = client.get(url).status_code
        assert code == status, (url, code)
    """
)


@pytest.fixture(scope="module")
def log() -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "labeler.settings", "DEBUG": "1"}
    env.setdefault("SECRET_KEY", "test-secret-key-" + "t" * 40)
    env.pop("LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("line", "traceback_end"),
    [
        (
            "Forbidden (Permission denied): /forbidden/",
            "PermissionDenied: not a member of this project",
        ),
        ("Not Found: /missing/", None),  # Django logs a 404 without its traceback
        (
            "the cursor is not one this page made: /bad/",
            "BadRequest: the cursor is not one this page made",
        ),
    ],
)
def test_each_refusal_is_logged_once(log: str, line: str, traceback_end: str | None) -> None:
    """A 403, a 404 and a 400 each print their warning line once, and a traceback once."""
    assert log.count(line) == 1, log
    if traceback_end:
        assert log.count(traceback_end) == 1, log


def test_the_log_holds_nothing_twice(log: str) -> None:
    """Three refused requests: two tracebacks in all."""
    assert log.count("Traceback (most recent call last)") == 2, log
