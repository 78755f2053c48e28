"""Every link the site makes starts with ``LABELER_SITE_URL``, never with a Host header.

Password-reset e-mails, invitations and Label Studio exports were built from the request's
Host: where any host was allowed, an anonymous "forgot password?" with a forged Host
mailed a real user a reset link to another site. The rule's one owner is
``labeler.site_address``. These tests allow every host, forge one, and read the links
each link-making route hands out or mails; a source walk finds any module that builds an
address from the request itself, and every GET route of the URLconf is asked with the
forged host and must never name it.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from labeler.exports.models import Export
from labeler.images.catalogue.metadata_fields import field_create
from labeler.projects.models import Role
from labeler.site_address import site_address_check, site_link, site_url
from tests.ast_parse import ast_parse
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.labeler.test_dates_in_routes import routes
from tests.labeler.test_text_in_routes import fill

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SITE = "https://labeler.example.org"
FORGED = "evil.example"
LINK = re.compile(r"https?://[^\s\"'<>\\]+")


@pytest.fixture(autouse=True)
def any_host(settings):
    """Every host allowed (the worst install), the site's address set."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.LABELER_SITE_URL = SITE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def world(make_images) -> dict[str, Any]:
    admin = UserFactory(username="site-admin", is_staff=True, is_superuser=True)
    annotator = UserFactory(username="site-annotator", email="ann@example.org")
    project = ProjectFactory(labels=["cat", "dog"], overlap=2)
    add_member(project, admin, Role.LEAD)
    add_member(project, annotator, Role.ANNOTATOR)
    images = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    field_create(project=project, name="visit", kind="date")
    ids = {
        "project_pk": project.pk, "project_id": project.pk, "image_id": images[0].pk,
        "images": images[0].pk, "pk": images[0].pk, "id": images[0].pk,
        "user_pk": annotator.pk, "user_id": annotator.pk, "users": annotator.pk,
    }  # fmt: skip
    return {"admin": admin, "annotator": annotator, "project": project, "ids": ids}


def links_in(text: str) -> list[str]:
    return LINK.findall(text)


def assert_on_site(text: str, *, at_least: int = 1) -> None:
    """Every link in ``text`` starts with the site's address, and the forged host is
    nowhere."""
    found = links_in(text)
    assert FORGED not in text, text[:500]
    assert len(found) >= at_least, text[:500]
    assert all(link.startswith(SITE + "/") for link in found), found


def api(user) -> Any:
    client = client_for(user)
    client.defaults["HTTP_HOST"] = FORGED
    return client


def page(user=None) -> Client:
    client = Client(HTTP_HOST=FORGED)
    if user is not None:
        client.force_login(user)
    return client


# The owner, and no other builder.

BUILDERS = {"build_absolute_uri", "get_host", "get_raw_uri"}


def test_no_module_builds_an_address_from_the_request():
    """No module of labeler, the API or the workers calls ``build_absolute_uri`` or
    ``get_host`` or reads ``HTTP_HOST``, and no template writes ``{{ domain }}`` or
    ``{{ protocol }}``: every absolute link comes from ``labeler.site_address``."""
    found = []
    for folder in ("labeler", "api", "worker"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast_parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in BUILDERS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}")
                if isinstance(node, ast.Constant) and node.value in ("HTTP_HOST", "SERVER_NAME"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.is_file() and re.search(
            r"\{\{\s*(domain|protocol|request\.get_host)", path.read_text()
        ):
            found.append(str(path.relative_to(ROOT)))
    assert found == []


def test_the_address_is_checked_when_the_site_starts():
    """A scheme and a host, nothing after them; anything else stops the settings."""
    assert site_address_check("https://labeler.example.org/") == "https://labeler.example.org"
    assert site_address_check("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    for wrong in (
        "labeler.example.org",
        "ftp://x.org",
        "https://x.org/labeler",
        "https://x.org/?a=1",
    ):
        with pytest.raises(ValueError, match="LABELER_SITE_URL"):
            site_address_check(wrong)
    assert issubclass(ImproperlyConfigured, Exception)  # what labeler/settings.py raises


def test_site_url_and_site_link_keep_the_path_and_drop_the_host():
    assert site_url("/join/abc/?x=1") == f"{SITE}/join/abc/?x=1"
    assert (
        site_link(f"http://{FORGED}/api/v1/projects/?cursor=a")
        == f"{SITE}/api/v1/projects/?cursor=a"
    )
    assert site_link(None) is None
    with pytest.raises(ValueError):
        site_url("join/")


# Each route that makes a link, sent a forged Host.


def test_a_forgot_password_mail_links_to_the_site_whatever_host_was_named(world):
    """An anonymous "forgot password?" with a forged Host: the mail's link is the site's."""
    answer = page().post("/password-reset/", {"email": "ann@example.org"})
    assert answer.status_code == 302, answer.content[:300]
    [message] = mail.outbox
    assert_on_site(message.body)
    assert f"{SITE}/password/" in message.body or f"{SITE}/" in message.body


def test_invitations_mail_and_answer_links_to_the_site(world):
    """A project invitation by e-mail and by link (API and the members page), an account
    invited, an invitation sent again, a reset sent by an admin (API and the team page)."""
    admin, project, annotator = world["admin"], world["project"], world["annotator"]
    client = api(admin)
    base = f"/api/v1/projects/{project.pk}/invitations/"
    by_mail = client.post(base, {"role": "annotator", "email": "new@example.org"}, format="json")
    by_link = client.post(base, {"role": "annotator"}, format="json")
    assert by_mail.status_code == by_link.status_code == 201, by_mail.content
    assert_on_site(json.dumps([by_mail.json()["link"], by_link.json()["link"]]), at_least=2)
    invited = client.post(
        "/api/v1/users/invite/",
        {"username": "newbie", "email": "newbie@example.org"},
        format="json",
    )
    assert invited.status_code == 201, invited.content
    for kind in ("send-invitation", "send-password-reset"):
        sent = client.post(f"/api/v1/users/{annotator.pk}/{kind}/")
        assert sent.status_code == 202, sent.content
    members = page(admin)
    shown = members.post(
        f"/projects/{project.pk}/members/",
        {"action": "invite-email", "email-email": "p@example.org", "email-role": "annotator",
         "email-days": 7},
    )  # fmt: skip
    assert shown.status_code in (200, 302), shown.content[:300]
    team = members.post("/team/", {"action": "reset", "user": annotator.pk}, follow=True)
    assert team.status_code == 200
    assert len(mail.outbox) >= 5, [m.subject for m in mail.outbox]
    for message in mail.outbox:
        assert_on_site(message.body)
    assert_on_site(team.content.decode().split("<main", 1)[-1], at_least=1)


def test_a_label_studio_export_links_images_on_the_site(world):
    """Direct, background and bulk Label Studio exports: every image link the file holds,
    and the download link of the answer, start with the site's address."""
    project, client = world["project"], api(world["admin"])
    direct = client.get(f"/api/v1/projects/{project.pk}/export/", {"format": "label-studio"})
    assert direct.status_code == 200
    assert_on_site(b"".join(direct.streaming_content).decode(), at_least=3)
    queued = client.post(
        f"/api/v1/projects/{project.pk}/exports/", {"format": "label-studio"}, format="json"
    )
    assert queued.status_code in (200, 201, 202), queued.content
    export = Export.objects.get(pk=queued.json()["id"])
    assert export.base_url.rstrip("/") == SITE
    detail = client.get(f"/api/v1/exports/{export.pk}/").json()
    assert detail["download_url"] is None or detail["download_url"].startswith(SITE + "/")
    bulk = client.post(
        f"/api/v1/projects/{project.pk}/images/bulk/",
        {"action": "export", "selection": {"filter": ""}, "format": "label-studio"},
        format="json",
    )
    assert bulk.status_code < 500, bulk.content
    assert FORGED not in json.dumps([e.base_url for e in Export.objects.all()])


def test_no_answer_of_any_get_route_names_the_forged_host(world):
    """Every GET route of the URLconf (pages and API), as an admin who leads the project,
    with a forged Host: the host appears in no answer (file links, next pages, the
    prediction API's address, exports' downloads...)."""
    client_api, client_page = api(world["admin"]), page(world["admin"])
    failures, asked = [], 0
    for route in routes():
        path = fill(route, world["ids"])
        answer = (client_api if route.startswith("/api/") else client_page).get(path)
        asked += 1
        if answer.status_code >= 500:
            failures.append(f"{route}: {answer.status_code}")
            continue
        body = (b"".join(answer.streaming_content) if answer.streaming else answer.content).decode(
            errors="replace"
        )
        if FORGED in body:
            failures.append(f"{route}: names {FORGED}")
    assert asked > 100
    assert failures == []


def test_the_admins_index_shows_the_sites_address(world):
    answer = page(world["admin"]).get("/admin/")
    assert answer.status_code == 200
    assert f"<code>{SITE}</code>" in answer.content.decode()
