"""Playwright driving Debian's Chromium against the live test server."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from weakref import WeakKeyDictionary

import pytest
from django.conf import settings as django_settings
from django.test import Client

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


# One browser a module, not a session: Playwright's sync API keeps an event loop running in
# the thread while it is open, and a test of another module run later in the same process
# (tests share processes under pytest-xdist) that calls async_to_sync would find it there.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop; Django must allow ORM calls beside it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def csp_refusals(page) -> list[str]:
    """Start collecting what the Content-Security-Policy refuses on the page, as Chromium
    logs it; the list grows as the test goes on, across navigations."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


class RequestsInFlight:
    """A page's requests that have started and not yet finished or failed, and when that
    number last changed: what ``network_settled`` waits on."""

    def __init__(self, page) -> None:
        self.count = 0
        self.changed_at = time.monotonic()
        page.on("request", lambda _request: self._add(1))
        page.on("requestfinished", lambda _request: self._add(-1))
        page.on("requestfailed", lambda _request: self._add(-1))

    def _add(self, step: int) -> None:
        self.count += step
        self.changed_at = time.monotonic()


_IN_FLIGHT: WeakKeyDictionary[object, RequestsInFlight] = WeakKeyDictionary()


def requests_tracked(page):
    """Count the page's requests from now on (before its first navigation), for
    ``network_settled``; the page."""
    _IN_FLIGHT[page] = RequestsInFlight(page)
    return page


def network_settled(page, *, quiet_ms: int = 100, timeout_ms: int = 10_000) -> None:
    """Wait until the page has loaded and none of its requests has been in flight for
    ``quiet_ms``: Playwright's "networkidle", which waits for 500 ms of quiet after every
    page. A page's scripts start their fetches before its load event and chain the next
    within a moment of the last one's end, so 100 ms of quiet shows the same and saves 0.4 s
    a page. The page must have been counted from its start (``requests_tracked``)."""
    page.wait_for_load_state("load")
    in_flight = _IN_FLIGHT[page]
    deadline = time.monotonic() + timeout_ms / 1000
    while in_flight.count > 0 or time.monotonic() - in_flight.changed_at < quiet_ms / 1000:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{in_flight.count} requests still in flight after {timeout_ms} ms: {page.url}"
            )
        page.wait_for_timeout(20)


@pytest.fixture
def page(browser):
    """A fresh page whose requests are counted (``network_settled``); the test fails if
    any page it opened broke the site's CSP."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = requests_tracked(context.new_page())
    refused = csp_refusals(page)
    yield page
    context.close()
    assert refused == [], "the Content-Security-Policy refused something"


SCREENSHOTS = "LABELER_SCREENSHOTS"


def screenshots_wanted() -> bool:
    """Screenshots are written only when asked for, with ``LABELER_SCREENSHOTS=1``: taking
    them costs time on every run and nobody looks at them unless they asked."""
    return os.environ.get(SCREENSHOTS, "") == "1"


def keep_screenshot(target, path: Path | str, **options) -> Path:
    """Write a PNG of a page or a locator to ``path`` whether or not screenshots are asked
    for (``take_screenshot`` writes through it when they are)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(path), **options)
    return path


def take_screenshot(target, path: Path | str, **options) -> Path | None:
    """Write a PNG of a page or a locator to ``path`` when screenshots are asked for;
    ``None`` when they are not (nothing taken, nothing written)."""
    if not screenshots_wanted():
        return None
    return keep_screenshot(target, path, **options)


def save_screenshot(page, name: str, *, full_page: bool = True) -> Path | None:
    """Save a PNG of a page under test-artifacts/ when screenshots are asked for."""
    return take_screenshot(page, ARTIFACTS / f"{name}.png", full_page=full_page)


@pytest.fixture
def screenshot(page):
    """Save a PNG of the test's page under test-artifacts/ when screenshots are asked for."""

    def save(name: str, *, full_page: bool = True) -> Path | None:
        return save_screenshot(page, name, full_page=full_page)

    return save


def login(page, live_server, username: str, password: str = "correct-horse-battery") -> None:
    """Sign the page in as ``username`` and open the home page, where a login lands: the
    session a login with this password makes, given to the browser as its cookie. The login
    form itself, as a person fills it in, is walked in test_pages.py, test_lead.py and
    test_team.py; here it would cost every test two more requests (0.2 s)."""
    client = Client()
    assert client.login(username=username, password=password), f"{username} cannot log in"
    session = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": session.key, "value": session.value, "url": live_server.url, "httpOnly": True}]
    )
    page.goto(f"{live_server.url}/")
