"""The audit trail through the real routes: each event recorded once, with its actor,
address and details; who may read which entries; the CSV and JSON Lines files."""

from __future__ import annotations

import csv
import html
import io
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labeler.audit.models import Action, AuditEntry
from labeler.audit.selectors import audit_verify
from labeler.audit.services import audit_record
from labeler.projects.models import Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, add_member

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]
PASSWORD = "correct-horse-battery"
ADDRESS = "203.0.113.9"


def only(action: str) -> AuditEntry:
    """The one entry of this action (fails if there are more or none)."""
    entries = list(AuditEntry.objects.filter(action=action))
    assert len(entries) == 1, [e.action for e in AuditEntry.objects.all()]
    return entries[0]


def api(user) -> APIClient:
    client = client_for(user)
    client.defaults["REMOTE_ADDR"] = ADDRESS
    return client


def test_page_login_logout_and_failed_login(lead):
    client = Client(REMOTE_ADDR=ADDRESS)
    client.post("/login/", {"username": "lead", "password": "wrong"})
    failed = only(Action.LOGIN_FAILED)
    assert failed.actor_id is None and failed.actor_name == "lead"
    assert failed.address == ADDRESS and "wrong" not in json.dumps(failed.details)
    assert client.post("/login/", {"username": "lead", "password": PASSWORD}).status_code == 302
    login = only(Action.LOGIN)
    assert (login.actor_id, login.address, login.details) == (lead.pk, ADDRESS, {"via": "session"})
    client.post("/logout/")
    assert only(Action.LOGOUT).actor_id == lead.pk


def test_token_login_and_its_failure(lead):
    client = APIClient(REMOTE_ADDR=ADDRESS)
    url = "/api/v1/auth/token/"
    assert client.post(url, {"username": "lead", "password": "x"}).status_code == 400
    assert only(Action.LOGIN_FAILED).actor_name == "lead"
    assert client.post(url, {"username": "lead", "password": PASSWORD}).status_code == 200
    login = only(Action.LOGIN)
    assert (login.actor_id, login.address, login.details) == (lead.pk, ADDRESS, {"via": "token"})


def test_project_created_changed_and_deleted(admin_user):
    client = api(admin_user)
    response = client.post(
        "/api/v1/projects/", {"name": "Cats", "labels": ["a", "b"]}, format="json"
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    created = only(Action.PROJECT_CREATED)
    assert (created.project_id, created.actor_id, created.address) == (pk, admin_user.pk, ADDRESS)
    response = client.patch(
        f"/api/v1/projects/{pk}/", {"overlap": 3, "name": "Cats"}, format="json"
    )
    assert response.status_code == 200, response.content
    changed = only(Action.PROJECT_SETTINGS_CHANGED)
    assert changed.details == {"before": {"overlap": 1}, "after": {"overlap": 3}}
    assert changed.actor_id == admin_user.pk
    assert client.delete(f"/api/v1/projects/{pk}/").status_code in (202, 204)
    deleted = only(Action.PROJECT_DELETED)
    assert (deleted.project_id, deleted.project_name) == (pk, "Cats")
    assert audit_verify().ok


def test_member_roles(project, lead, outsider, annotator):
    client = api(lead)
    url = f"/api/v1/projects/{project.pk}/members/"
    assert (
        client.post(url, {"user": outsider.pk, "role": "annotator"}, format="json").status_code
        == 201
    )
    assert (
        client.patch(f"{url}{outsider.pk}/", {"role": "reviewer"}, format="json").status_code == 200
    )
    entries = list(AuditEntry.objects.filter(action=Action.ROLE_SET, target_id=str(outsider.pk)))
    assert [e.details for e in entries] == [
        {"before": None, "after": "annotator"},
        {"before": "annotator", "after": "reviewer"},
    ]
    assert all(e.actor_id == lead.pk and e.address == ADDRESS for e in entries)
    assert client.delete(f"{url}{outsider.pk}/").status_code == 204
    assert only(Action.ROLE_REMOVED).details == {"before": "reviewer", "after": None}


def test_prediction_tokens_issued_and_revoked(project, lead):
    client = api(lead)
    url = f"/api/v1/projects/{project.pk}/predict-tokens/"
    response = client.post(url, {"name": "line 1"}, format="json")
    assert response.status_code == 201, response.content
    issued = only(Action.TOKEN_ISSUED)
    assert issued.actor_id == lead.pk and issued.project_id == project.pk
    assert response.json()["key"] not in json.dumps(issued.details) + issued.target_text
    assert client.delete(f"{url}{response.json()['id']}/").status_code in (200, 204)
    assert only(Action.TOKEN_REVOKED).actor_id == lead.pk


def test_bulk_delete_records_the_action_and_the_deletion(project, lead, make_images):
    images = make_images(project, 2)
    body = {
        "action": "delete",
        "selection": {"ids": [i.pk for i in images]},
        "expected_count": 2,
    }
    response = api(lead).post(f"/api/v1/projects/{project.pk}/images/bulk/", body, format="json")
    assert response.status_code == 200, response.content
    assert only(Action.BULK_ACTION).details["action"] == "delete"
    deleted = only(Action.IMAGES_DELETED)
    assert deleted.details["deleted"] == 2 and deleted.actor_id == lead.pk


def test_direct_export_download(project, lead, make_images):
    make_images(project, 1)
    response = api(lead).get(f"/api/v1/projects/{project.pk}/export/?format=json")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = only(Action.EXPORT_DOWNLOADED)
    assert entry.details["direct"] is True and entry.actor_id == lead.pk


def test_original_served_to_a_lead_only(project, lead, annotator, make_images):
    [image] = make_images(project, 1)
    url = f"/api/v1/projects/{project.pk}/images/{image.pk}/file/"
    assert api(annotator).get(url).status_code == 200
    assert not AuditEntry.objects.filter(action=Action.ORIGINAL_DOWNLOADED).exists()
    assert api(lead).get(url).status_code == 200
    entry = only(Action.ORIGINAL_DOWNLOADED)
    assert (entry.actor_id, entry.project_id, entry.address) == (lead.pk, project.pk, ADDRESS)
    # The image by id: never its file's name or content hash, which an erasure must reach.
    assert (entry.target_type, entry.target_id) == ("image", str(image.pk))
    assert image.sha256 not in str(entry.details) + entry.target_text + entry.target_id


def _entries(project, other):
    audit_record(action=Action.LOGIN, actor_name="x", project=project)
    audit_record(action=Action.EXPORT_CREATED, actor_name="y", project=project)
    audit_record(action=Action.LOGIN, actor_name="z", project=other)


def test_lead_reads_own_project_only_and_annotators_are_refused(project, lead, annotator):
    other = ProjectFactory(name="Other")
    _entries(project, other)
    body = api(lead).get(f"/api/v1/projects/{project.pk}/audit/").json()
    assert {row["project_id"] for row in body["results"]} == {project.pk}
    assert api(lead).get(f"/api/v1/projects/{other.pk}/audit/").status_code == 404
    assert api(lead).get("/api/v1/audit/").status_code == 403
    assert api(annotator).get(f"/api/v1/projects/{project.pk}/audit/").status_code == 403
    response = api(lead).get(f"/api/v1/projects/{project.pk}/audit/?project={project.pk}")
    assert {row["project_id"] for row in response.json()["results"]} == {project.pk}


def test_project_trail_refuses_another_project(project, lead):
    """``?project=`` naming another project on a project's trail is a 400 naming both,
    never dropped into this project's answer (the pages' filter too)."""
    other = ProjectFactory(name="Other")
    add_member(other, lead, Role.LEAD)
    _entries(project, other)
    response = api(lead).get(f"/api/v1/projects/{project.pk}/audit/?project={other.pk}")
    assert response.status_code == 400, response.content
    assert str(other.pk) in response.json()["detail"]
    assert response.json()["errors"].keys() == {"project"}
    client = Client()
    client.force_login(lead)
    page = client.get(f"/projects/{project.pk}/audit/?project={other.pk}")
    assert page.status_code == 400 and "project" in page.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/api/v1/audit/", "/api/v1/projects/{pk}/audit/", "/audit/", "/projects/{pk}/audit/"],
)
def test_unknown_filter_keys_are_a_400(project, admin_user, url):
    """A key the trail does not know (a typo of ``actor``) is a 400 naming it and the
    known keys, on both trails, API and pages; the pages' and files' own keys pass."""
    client = Client()
    client.force_login(admin_user)
    url = url.format(pk=project.pk)
    _entries(project, ProjectFactory(name="Other"))
    response = client.get(f"{url}?actr=x")
    assert response.status_code == 400, response.content
    text = html.unescape(response.content.decode())
    assert "'actr'" in text and "actor" in text and "since" in text
    own = "page=1" if not url.startswith("/api/") else "page_size=5&export=jsonl"
    assert client.get(f"{url}?actor=x&{own}").status_code == 200


def test_admin_filters(project, admin_user):
    other = ProjectFactory(name="Other")
    _entries(project, other)
    client = api(admin_user)
    assert len(client.get("/api/v1/audit/").json()["results"]) == 3
    rows = client.get(f"/api/v1/audit/?project={other.pk}").json()["results"]
    assert [r["actor_name"] for r in rows] == ["z"]
    rows = client.get("/api/v1/audit/?action=login&actor=X").json()["results"]
    assert [r["actor_name"] for r in rows] == ["x"]
    assert client.get("/api/v1/audit/?since=2000-01-01&until=2000-01-02").json()["results"] == []


@pytest.mark.parametrize(
    "query",
    [
        "action=nope",
        "since=yesterday",
        "project=abc",
        "actr=x",
        "project_id=1",
        "export=xml",
        "export=",
        "until=2026-13-01",
        "until=9999-12-31",  # its end is past the last date there is
    ],
)
def test_bad_filters_are_a_400(admin_user, query):
    response = api(admin_user).get(f"/api/v1/audit/?{query}")
    assert response.status_code == 400, response.content


def test_csv_and_jsonl_exports(project, lead):
    other = ProjectFactory(name="Other")
    add_member(other, lead, Role.LEAD)
    _entries(project, other)
    client = api(lead)
    url = f"/api/v1/projects/{project.pk}/audit/"
    response = client.get(f"{url}?export=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["actor_name"] for r in rows] == ["y", "x"]
    assert rows[0]["action"] == "export_created" and len(rows[0]["hash"]) == 64
    response = client.get(f"{url}?export=jsonl&action=login")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["actor_name"] for line in lines] == ["x"]


def test_original_by_token_on_its_signed_address_names_the_lead(project, lead, make_images):
    """The README's download of ``file_url`` with an API token (the address's route reads
    the token itself) names the lead and the project, as a session's download does."""
    [image] = make_images(project, 1)
    body = api(lead).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/").json()
    response = api(lead).get(body["file_url"])
    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = only(Action.ORIGINAL_DOWNLOADED)
    assert (entry.actor_id, entry.actor_name, entry.address) == (lead.pk, "lead", ADDRESS)
    assert (entry.project_id, entry.project_name) == (project.pk, "Pets")


def test_refused_lead_and_admin_actions_are_recorded(project, lead, annotator):
    """A 403 at a lead's or an admin's route, over the API or a page, is one entry naming
    the actor, the project and the route's pattern (never its path); an anonymous caller
    (a 401, a redirect to the login page) and an allowed request record none."""
    assert api(annotator).get(f"/api/v1/projects/{project.pk}/audit/").status_code == 403
    refused = only(Action.ACCESS_REFUSED)
    assert (refused.actor_id, refused.address) == (annotator.pk, ADDRESS)
    assert (refused.project_id, refused.project_name) == (project.pk, "Pets")
    assert refused.target_type == "route" and refused.target_id == "api:project-audit"
    assert refused.target_text == "GET /api/v1/projects/<int:project_pk>/audit/"
    assert refused.details == {"method": "GET", "status": 403}
    assert api(lead).post("/api/v1/users/", {}, format="json").status_code == 403
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(annotator)
    assert client.get(f"/projects/{project.pk}/audit/").status_code == 403
    entries = AuditEntry.objects.filter(action=Action.ACCESS_REFUSED).order_by("sequence")
    assert [(e.actor_name, e.target_id, e.project_id) for e in entries] == [
        ("ann1", "api:project-audit", project.pk),
        ("lead", "api:user-list", None),
        ("ann1", "project-audit", project.pk),
    ]
    assert APIClient().get("/api/v1/audit/").status_code == 401
    assert Client().get("/audit/").status_code == 302
    assert api(lead).get(f"/api/v1/projects/{project.pk}/audit/").status_code == 200
    assert entries.count() == 3 and audit_verify().ok


def test_refusals_are_bounded_per_actor_and_minute(project, annotator, settings, monkeypatch):
    """Past ``LABELER_AUDIT_REFUSALS_PER_MINUTE`` an actor's refusals in a minute are
    counted, not recorded; the next one recorded says how many went unrecorded."""
    settings.LABELER_AUDIT_REFUSALS_PER_MINUTE = 3
    now = [1_800_000_000.0]
    monkeypatch.setattr("labeler.audit.refusals.time.time", lambda: now[0])
    url = f"/api/v1/projects/{project.pk}/audit/"
    for _ in range(7):
        assert api(annotator).get(url).status_code == 403
    entries = AuditEntry.objects.filter(action=Action.ACCESS_REFUSED)
    assert entries.count() == 3
    now[0] += 60
    assert api(annotator).get(url).status_code == 403
    assert entries.count() == 4
    assert entries.order_by("-sequence").first().details["not_recorded_before"] == 4
