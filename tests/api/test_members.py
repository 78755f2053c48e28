"""Project members through /api/v1/projects/{id}/members/: roles, and the last lead."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.projects.models import Membership, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.rows import row_counts


def roles(project) -> dict[str, str]:
    return dict(project.memberships.values_list("user__username", "role"))


@pytest.fixture
def members_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/members/"


@pytest.fixture
def as_lead(lead):
    return client_for(lead)


def test_the_lead_lists_members_with_their_roles(project, as_lead, members_url, lead):
    """The list names every member with their role."""
    response = as_lead.get(members_url)
    assert response.status_code == 200
    rows = [(m["user"], m["username"], m["role"]) for m in response.json()["results"]]
    assert sorted(rows) == sorted(
        (m.user_id, m.user.username, m.role) for m in project.memberships.all()
    )
    one = as_lead.get(f"{members_url}{lead.pk}/").json()
    assert (one["username"], one["role"]) == ("lead", "lead")


def test_adding_a_user_makes_them_a_member(project, as_lead, members_url, outsider):
    """POST {user, role} adds the user (201); they then see the project in their role."""
    response = as_lead.post(members_url, {"user": outsider.pk, "role": "reviewer"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "outsider"
    assert roles(project)["outsider"] == "reviewer"
    project_view = client_for(outsider).get(f"/api/v1/projects/{project.pk}/")
    assert project_view.json()["role"] == "reviewer"


def test_posting_an_existing_member_changes_their_role(project, as_lead, members_url, annotator):
    """POST for a member already there changes the role and answers 200, adding no row."""
    count = Membership.objects.count()
    response = as_lead.post(members_url, {"user": annotator.pk, "role": "lead"}, format="json")
    assert response.status_code == 200, response.content
    assert roles(project)["ann1"] == "lead"
    assert Membership.objects.count() == count


def test_patch_changes_a_role(project, as_lead, members_url, annotator):
    """PATCH {role} on a member changes it."""
    response = as_lead.patch(f"{members_url}{annotator.pk}/", {"role": "reviewer"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "reviewer"
    assert roles(project)["ann1"] == "reviewer"


def test_delete_removes_a_member_who_then_loses_access(project, as_lead, members_url, annotator):
    """A removed member no longer sees the project (404)."""
    assert as_lead.delete(f"{members_url}{annotator.pk}/").status_code == 204
    assert "ann1" not in roles(project)
    assert client_for(annotator).get(f"/api/v1/projects/{project.pk}/").status_code == 404


def test_an_admin_manages_members_without_being_one(project, admin_user, members_url, outsider):
    """Admins manage any project's members."""
    client = client_for(admin_user)
    response = client.post(members_url, {"user": outsider.pk, "role": "annotator"}, format="json")
    assert response.status_code == 201
    assert client.delete(f"{members_url}{outsider.pk}/").status_code == 204
    assert "outsider" not in roles(project)


BAD = [
    pytest.param({"user": "{outsider}", "role": "owner"}, "role", id="unknown-role"),
    pytest.param({"user": "{outsider}", "role": "Lead"}, "role", id="role-case"),
    pytest.param({"user": "{outsider}", "role": None}, "role", id="null-role"),
    pytest.param({"user": "{outsider}", "role": ""}, "role", id="empty-role"),
    pytest.param({"user": "{outsider}"}, "role", id="no-role"),
    pytest.param({"user": 10**9, "role": "annotator"}, "user", id="no-such-user"),
    pytest.param({"user": 10**20, "role": "annotator"}, "user", id="huge-user-id"),
    pytest.param({"user": "bob", "role": "annotator"}, "user", id="user-not-id"),
    pytest.param({"user": None, "role": "annotator"}, "user", id="null-user"),
    pytest.param({"role": "annotator"}, "user", id="no-user"),
]


def fill(payload: dict[str, Any], outsider) -> dict[str, Any]:
    return {k: outsider.pk if v == "{outsider}" else v for k, v in payload.items()}


@pytest.mark.parametrize("payload, field", BAD)
def test_bad_member_payloads_are_refused(as_lead, members_url, outsider, payload, field):
    """Bad users or roles answer 400 naming the field; nobody is added."""
    before = row_counts()
    response = as_lead.post(members_url, fill(payload, outsider), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]
    assert body["detail"].startswith(f"{field}:")
    assert row_counts() == before


@pytest.mark.parametrize("role", ["owner", "", None, 3])
def test_a_bad_role_in_patch_is_refused(project, as_lead, members_url, annotator, role):
    """PATCH with a role outside lead/reviewer/annotator answers 400; the role stays."""
    response = as_lead.patch(f"{members_url}{annotator.pk}/", {"role": role}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["role"]
    assert roles(project)["ann1"] == "annotator"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("who", ["outsider", "nobody", "huge"])
def test_non_members_are_not_found(as_lead, members_url, outsider, method, who):
    """A user who is not a member (or does not exist) answers 404 saying so."""
    user_id = {"outsider": outsider.pk, "nobody": 10**9, "huge": 10**20}[who]
    before = row_counts()
    response = getattr(as_lead, method)(f"{members_url}{user_id}/", {"role": "lead"}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == f"User {user_id} is not a member of this project."
    assert row_counts() == before


# The last lead


@pytest.mark.parametrize(
    "method, path, payload",
    [
        ("patch", "{lead}/", {"role": "annotator"}),
        ("patch", "{lead}/", {"role": "reviewer"}),
        ("post", "", {"user": "{lead}", "role": "annotator"}),
        ("delete", "{lead}/", None),
    ],
)
@pytest.mark.parametrize("caller", ["lead", "admin"])
def test_the_last_lead_cannot_be_demoted_or_removed(
    project, lead, admin_user, members_url, method, path, payload, caller
):
    """A project always keeps a lead: 409 with a message, and the lead stays."""
    client = client_for(lead if caller == "lead" else admin_user)
    body = payload and {k: lead.pk if v == "{lead}" else v for k, v in payload.items()}
    before = row_counts()
    response = getattr(client, method)(members_url + path.format(lead=lead.pk), body, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["detail"] == "A project must keep at least one lead."
    assert response.json()["code"] == "conflict"
    assert roles(project)["lead"] == "lead"
    assert row_counts() == before


def test_with_a_second_lead_the_first_may_step_down(project, lead, members_url):
    """Once another lead exists, a lead can demote or remove themselves."""
    second = UserFactory(username="lead2")
    add_member(project, second, Role.LEAD)
    client = client_for(lead)
    response = client.patch(f"{members_url}{lead.pk}/", {"role": "annotator"}, format="json")
    assert response.status_code == 200
    assert roles(project)["lead"] == "annotator"
    response = client_for(second).delete(f"{members_url}{second.pk}/")
    assert response.status_code == 409
    assert roles(project)["lead2"] == "lead"


def test_a_lead_cannot_reach_members_of_another_project(project, lead, outsider):
    """A lead's rights stop at their project: elsewhere they get 404."""
    other = ProjectFactory(name="Other")
    add_member(other, outsider, Role.LEAD)
    before = row_counts()
    client = client_for(lead)
    url = f"/api/v1/projects/{other.pk}/members/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"user": lead.pk, "role": "lead"}, format="json").status_code == 404
    assert client.delete(f"{url}{outsider.pk}/").status_code == 404
    assert row_counts() == before
