"""The audit pages: the server's for admins, a project's for its leads, filters and pages."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client

from labeler.audit.models import Action
from labeler.audit.services import audit_record
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_lead_sees_own_project_entries_with_filters(project, lead, annotator):
    other = ProjectFactory(name="Elsewhere")
    audit_record(
        action=Action.EXPORT_CREATED,
        actor=lead,
        project=project,
        target=("export", 1, "json"),
        details={"format": "json", "images": 3},
    )
    audit_record(action=Action.LOGIN, actor=lead, project=project)
    audit_record(
        action=Action.EXPORT_CREATED, actor=lead, project=other, target=("export", 2, "zq-secret")
    )
    client = logged_in(lead)
    assert (
        f'href="/projects/{project.pk}/audit/"'
        in client.get(f"/projects/{project.pk}/").content.decode()
    )
    page = client.get(f"/projects/{project.pk}/audit/?action=export_created").content.decode()
    assert page.count('data-action="export_created"') == 1 and "zq-secret" not in page
    # The details read as JSON, as the downloads give them.
    assert "{&quot;format&quot;: &quot;json&quot;, &quot;images&quot;: 3}" in page
    assert 'data-action="login"' not in page
    assert logged_in(annotator).get(f"/projects/{project.pk}/audit/").status_code == 403
    assert client.get("/audit/").status_code == 403


def test_admin_sees_the_server_and_a_bad_filter_is_a_400(project, admin_user):
    for n in range(60):
        audit_record(action=Action.LOGIN, actor_name=f"user{n}")
    client = logged_in(admin_user)
    assert 'href="/audit/"' in client.get("/").content.decode()
    first = client.get("/audit/").content.decode()
    assert first.count('data-action="login"') == 50 and "Page 1 of 2" in first
    # 61 logins: the 60 and the admin's own (force_login sends user_logged_in).
    assert client.get("/audit/?page=2").content.decode().count('data-action="login"') == 11
    response = client.get("/audit/?since=not-a-date")
    assert response.status_code == 400
    assert "since: 'not-a-date' is not a date and time" in unescape(response.content.decode())
