"""Web security: login throttling, CSRF on every form, the headers of production.

Every page is rendered as a lead and an admin: each form that posts carries the CSRF
token and is refused without it; no page holds an inline script, event handler or
style attribute, so the Content-Security-Policy (scripts and styles from our own static
files only) holds. Production settings, in a subprocess with DEBUG off, send CSP, HSTS,
nosniff, Referrer-Policy, X-Frame-Options and Cross-Origin-Opener-Policy, and keep
cookies secure, HTTP-only and same-site.
"""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.test_settings import PRODUCTION, run

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def page_urls(project_id: int, *, creator: bool = True) -> list[str]:
    """Every page of the site that a lead opens, for one project (and project-new for admins)."""
    names = [
        "project-detail", "project-edit", "project-members", "project-upload", "project-export",
        "label", "agreement-dashboard", "review", "models", "machine-review",
    ]  # fmt: skip
    start = ["/", reverse("project-new")] if creator else ["/"]
    return start + [reverse(n, args=[project_id]) for n in names]


class Forms(HTMLParser):
    """The page's POST forms (action, fields) and its script, style and handler markup."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.inline: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self.forms.append({"action": found.get("action") or "", "fields": {}})
            self._in_form = True
        elif tag == "form":
            self._in_form = False
        if tag == "input" and self._in_form and found.get("name"):
            self.forms[-1]["fields"][found["name"]] = found.get("value") or ""
        if tag == "script" and not found.get("src") and found.get("type") != "application/json":
            self.inline.append(f"<script> without src: {found}")
        if tag == "style":
            self.inline.append("<style> element")
        for name, value in attrs:
            if name == "style" or name.startswith("on") or "javascript:" in (value or ""):
                self.inline.append(f"{tag} {name}={value!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def directives(policy: str) -> dict[str, set[str]]:
    """A Content-Security-Policy header as {directive: sources}."""
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: set(sources) for name, *sources in parts}


def parsed(html: str) -> Forms:
    forms = Forms()
    forms.feed(html)
    return forms


@pytest.fixture
def site(project, lead, admin_user, make_images):
    make_images(project, 2)
    return project


@pytest.mark.parametrize("who", ["lead", "admin_user"])
def test_every_page_s_post_forms_carry_the_csrf_token_and_no_inline_code(request, site, who):
    """Each page's POST forms hold csrfmiddlewaretoken; no page has inline script or style."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(request.getfixturevalue(who))
    pages = page_urls(site.pk, creator=who == "admin_user")
    form_count = 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        page = parsed(response.content.decode())
        assert page.inline == [], url
        for form in page.forms:
            assert form["fields"].get("csrfmiddlewaretoken"), (url, form)
            form_count += 1
        policy = directives(response["Content-Security-Policy"])
        # Tests also allow 'unsafe-eval' for Playwright (tests/settings.py); production
        # sends exactly 'self' (test_production_sends_the_security_headers...).
        assert policy["script-src"] - {"'unsafe-eval'"} == policy["style-src"] == {"'self'"}
        assert policy["frame-ancestors"] == {"'none'"}
    assert form_count >= len(pages)  # every page has at least the log-out form


def test_post_forms_without_the_token_are_refused(site, admin_user):
    """Every POST form's action refuses a request without the CSRF token: 403."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    actions = set()
    for url in page_urls(site.pk):
        for form in parsed(client.get(url).content.decode()).forms:
            actions.add(form["action"] or url)
    assert {reverse("logout"), reverse("project-new")} <= actions
    for action in sorted(actions):
        response = client.post(action, {})
        assert response.status_code == 403, action
        assert b"CSRF" in response.content


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/projects/", {"name": "x", "labels": ["a", "b"]}),
        ("patch", "/api/v1/projects/{pk}/", {"instructions": "y"}),
        ("post", "/api/v1/projects/{pk}/exports/", {"format": "json"}),
        ("post", "/api/v1/projects/{pk}/skips/", {"image_id": 1}),
        ("delete", "/api/v1/projects/{pk}/", None),
    ],
)
def test_session_authenticated_api_writes_need_the_csrf_header(site, lead, method, path, body):
    """A browser session's API writes without X-CSRFToken are refused: 403, nothing done."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(lead)
    url = path.format(pk=site.pk)

    response = getattr(client, method)(url, body, format="json")

    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["detail"]
    assert ProjectFactory._meta.model.objects.filter(pk=site.pk, instructions="y").count() == 0


def login_post(client: Client, username: str, password: str) -> object:
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.fixture
def maria(db):
    cache.clear()
    return UserFactory(username="maria")


def test_login_is_refused_for_a_while_after_five_failures(maria, settings):
    """The sixth attempt, even with the right password, answers 429 with the wait."""
    client = Client()
    for _ in range(5):
        response = login_post(client, "maria", "wrong")
        assert response.status_code == 200
        assert b"do not match" in response.content

    response = login_post(client, "maria", PASSWORD)

    assert response.status_code == 429
    assert b"Too many failed login attempts; try again in 15 minutes." in response.content
    assert 899 <= int(response["Retry-After"]) <= 900
    assert "_auth_user_id" not in client.session


def test_other_usernames_and_addresses_are_not_held_back(maria):
    """The refusal is for one username from one address."""
    UserFactory(username="joao")
    client = Client()
    for _ in range(5):
        login_post(client, "maria", "wrong")

    assert login_post(client, "joao", PASSWORD).status_code == 302
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert login_post(elsewhere, "maria", PASSWORD).status_code == 302


def test_a_success_starts_the_count_again(maria):
    """Four failures, a success, four failures: never refused."""
    client = Client()
    for _ in range(4):
        login_post(client, "maria", "wrong")
    assert login_post(client, "maria", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert login_post(client, "maria", "wrong").status_code == 200
    assert login_post(client, "maria", PASSWORD).status_code == 302


def test_guessing_across_usernames_from_one_address_is_held_back(maria):
    """Fifty failures from one address over many usernames refuse that address for a while."""
    client = Client()
    for n in range(50):
        login_post(client, f"user{n}", "wrong")

    response = login_post(client, "maria", PASSWORD)

    assert response.status_code == 429


def test_the_refusal_ends_after_the_lockout(maria, settings):
    """Once LABELER_LOGIN_LOCKOUT_SECONDS have passed since the last failure, login works."""
    settings.LABELER_LOGIN_LOCKOUT_SECONDS = 1
    client = Client()
    for _ in range(5):
        login_post(client, "maria", "wrong")
    assert login_post(client, "maria", PASSWORD).status_code == 429
    time.sleep(1.1)
    assert login_post(client, "maria", PASSWORD).status_code == 302


def test_admin_and_token_logins_share_the_refusal(maria):
    """Failures at the admin's login and the API's token exchange count alike, and refuse."""
    maria.is_staff = True
    maria.save()
    client = Client()
    for _ in range(3):
        client.post("/admin/login/", {"username": "maria", "password": "wrong"})
    api = APIClient()
    for _ in range(2):
        response = api.post("/api/v1/auth/token/", {"username": "maria", "password": "wrong"})
        assert response.status_code == 400

    response = api.post("/api/v1/auth/token/", {"username": "maria", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.json()["detail"]
    admin = client.post("/admin/login/", {"username": "maria", "password": PASSWORD})
    assert admin.status_code == 200  # the form again: not logged in
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("body", [[1, 2], "maria", None], ids=["list", "string", "null"])
def test_token_login_with_a_body_that_is_not_an_object_answers_400(maria, body):
    """The throttle reads the username only from an object body; others are a clear 400."""
    response = APIClient().post("/api/v1/auth/token/", body, format="json")

    assert response.status_code == 400, response.content


def test_an_annotator_s_pages_have_no_inline_code(db):
    """The pages an annotator opens (home, label) hold no inline script or style either."""
    project = ProjectFactory()
    user = UserFactory(username="ann")
    add_member(project, user, Role.ANNOTATOR)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url in ("/", reverse("label", args=[project.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert parsed(response.content.decode()).inline == []


def test_the_browsable_api_s_pages_have_no_inline_code(site, admin_user):
    """DRF's HTML pages (lists, objects with their edit and delete forms, extra actions,
    filters, its login page) hold no inline script, style or handler: the CSP holds there
    too (templates/rest_framework/). Logging out is a form with the CSRF token (DRF's
    other forms send it in a header, from their script)."""
    image = site.images.first()
    pages = [
        "/api/v1/",
        "/api/v1/projects/",
        f"/api/v1/projects/{site.pk}/",
        f"/api/v1/projects/{site.pk}/images/",
        f"/api/v1/projects/{site.pk}/images/{image.pk}/",
    ]
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(admin_user)
    anonymous = Client(enforce_csrf_checks=True)
    for client, url in [
        *((admin, url) for url in pages),
        (anonymous, "/api/v1/projects/"),
        (anonymous, reverse("rest_framework:login")),
    ]:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response["Content-Type"].startswith("text/html"), url
        page = parsed(response.content.decode())
        assert page.inline == [], url
        logout = reverse("rest_framework:logout")
        logouts = [form for form in page.forms if form["action"].startswith(logout)]
        assert len(logouts) == (1 if client is admin else 0), url
        assert all(form["fields"].get("csrfmiddlewaretoken") for form in logouts), url


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
r = Client().get("/healthz/", secure=True, HTTP_HOST="labeler.example.com")
names = ("Content-Security-Policy", "Strict-Transport-Security", "X-Content-Type-Options",
         "Referrer-Policy", "X-Frame-Options", "Cross-Origin-Opener-Policy")
print(json.dumps({
    "status": r.status_code,
    "headers": {n: r.headers.get(n) for n in names},
    "cookies": {n: getattr(s, n) for n in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE",
        "SECURE_SSL_REDIRECT")},
}))
"""


def test_production_sends_the_security_headers_and_secure_cookies(tmp_path):
    """DEBUG off: CSP without inline code, HSTS for a year, nosniff, same-origin policies."""
    env = {**PRODUCTION, "LABELER_VAR_DIR": str(tmp_path)}
    done = run(["-c", PRODUCTION_PROBE], env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])

    assert found["status"] == 200
    headers = found["headers"]
    policy = directives(headers["Content-Security-Policy"])
    for name in ("default-src", "script-src", "style-src", "img-src", "connect-src"):
        assert policy[name] == {"'self'"}, name
    assert policy["frame-ancestors"] == policy["object-src"] == {"'none'"}
    assert headers["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert found["cookies"] == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SECURE_SSL_REDIRECT": True,
    }
