"""Who may do what: every endpoint against every role, and ids guessed across projects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from tests.conftest import client_for
from tests.factories import (
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    hold,
    skip_create,
)
from tests.rows import row_counts

ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}
ROLES = ["anonymous", "annotator", "stranger", "reviewer", "lead", "admin"]


def everyone(ok: int) -> dict[str, int]:
    """Any logged-in user passes."""
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:], ok)}


def members(ok: int) -> dict[str, int]:
    """Members in any role and admins pass; the project is invisible to others."""
    return {**everyone(ok), "stranger": 404}


def managers(ok: int) -> dict[str, int]:
    """Only the project's leads and admins pass."""
    return {**members(ok), "annotator": 403, "reviewer": 403}


def overseers(ok: int) -> dict[str, int]:
    """Reviewers, leads and admins pass; annotators are refused (it names other annotators)."""
    return {**members(ok), "annotator": 403}


def admins(ok: int) -> dict[str, int]:
    """Only staff pass."""
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:-1], 403), "admin": ok}


def own(ok: int) -> dict[str, int]:
    """Only the annotator whose work it is passes; to anyone else it does not exist."""
    return {**members(404), "annotator": ok}


@dataclass
class Case:
    name: str
    method: str
    path: str
    expected: dict[str, int]
    body: dict[str, Any] | None = None


P = "/api/v1/projects/{project}"
CASES = [
    Case("projects-list", "get", "/api/v1/projects/", everyone(200)),
    Case(
        "project-create",
        "post",
        "/api/v1/projects/",
        admins(201),
        {"name": "New", "labels": ["yes", "no"]},
    ),
    Case("project-retrieve", "get", f"{P}/", members(200)),
    Case("project-update", "patch", f"{P}/", managers(200), {"name": "Renamed"}),
    Case("project-delete", "delete", f"{P}/", managers(204)),
    Case("members-list", "get", f"{P}/members/", managers(200)),
    Case("member-retrieve", "get", f"{P}/members/{{annotator2}}/", managers(200)),
    Case(
        "member-add",
        "post",
        f"{P}/members/",
        managers(201),
        {"user": "{newcomer}", "role": "annotator"},
    ),
    Case(
        "member-update",
        "patch",
        f"{P}/members/{{annotator2}}/",
        managers(200),
        {"role": "reviewer"},
    ),
    Case("member-remove", "delete", f"{P}/members/{{annotator2}}/", managers(204)),
    Case("images-list", "get", f"{P}/images/", members(200)),
    Case("image-retrieve", "get", f"{P}/images/{{image}}/", members(200)),
    Case("image-file", "get", f"{P}/images/{{image}}/file/", members(200)),
    Case("annotations-list", "get", f"{P}/annotations/", members(200)),
    Case(
        "annotation-retrieve-another-annotators",
        "get",
        f"{P}/annotations/{{theirs}}/",
        {**members(200), "annotator": 404},
    ),
    Case(
        "annotation-submit",
        "post",
        f"{P}/annotations/",
        members(201),
        {"image": "{fresh_image}", "labels": ["cat"]},
    ),
    Case("annotation-delete-own", "delete", f"{P}/annotations/{{mine}}/", own(204)),
    Case(
        "annotation-delete-another-annotators", "delete", f"{P}/annotations/{{theirs}}/", own(404)
    ),
    Case("skips-list", "get", f"{P}/skips/", members(200)),
    Case(
        "skip-create",
        "post",
        f"{P}/skips/",
        members(201),
        {"image": "{fresh_image}", "reason": "blurry"},
    ),
    Case("skip-retrieve-own", "get", f"{P}/skips/{{my_skip}}/", members(200)),
    Case(
        "skip-retrieve-another-annotators",
        "get",
        f"{P}/skips/{{their_skip}}/",
        {**members(200), "annotator": 404},
    ),
    Case("skip-delete-own", "delete", f"{P}/skips/{{my_skip}}/", own(204)),
    Case("skip-delete-another-annotators", "delete", f"{P}/skips/{{their_skip}}/", own(404)),
    Case("next", "get", f"{P}/next/", members(200)),
    Case("next-page", "get", f"{P}/queue/page/", members(200)),
    Case("progress", "get", f"{P}/progress/", members(200)),
    Case("history", "get", f"{P}/history/", members(200)),
    Case("export", "get", f"{P}/export/", managers(200)),
    Case("label-history", "get", f"{P}/label-history/", overseers(200)),
    Case("image-history", "get", f"{P}/images/{{image}}/history/", overseers(200)),
    Case("users-list", "get", "/api/v1/users/", admins(200)),
    Case(
        "user-create",
        "post",
        "/api/v1/users/",
        admins(201),
        {"username": "fresh", "password": "s3cret-pass-99"},
    ),
    Case("user-retrieve", "get", "/api/v1/users/{annotator}/", admins(200)),
    Case("users-me", "get", "/api/v1/users/me/", everyone(200)),
]


@dataclass
class World:
    """A project with a member in every role, a stranger from another project and an admin."""

    project: Project
    other: Project
    users: dict[str, Any]
    ids: dict[str, int]


@pytest.fixture
def world(project, lead, annotator, annotator2, outsider, admin_user, make_images) -> World:
    reviewer = UserFactory(username="reviewer")
    add_member(project, reviewer, Role.REVIEWER)
    other = ProjectFactory(name="Other")
    add_member(other, outsider, Role.ANNOTATOR)
    image, fresh_image = make_images(project, 2)
    theirs, _ = annotation_submit(
        project=project, annotator=annotator2, image_id=image.pk, labels=["dog"]
    )
    users = {
        "annotator": annotator,
        "stranger": outsider,
        "reviewer": reviewer,
        "lead": lead,
        "admin": admin_user,
    }
    ids = {
        "project": project.pk,
        "annotator": annotator.pk,
        "annotator2": annotator2.pk,
        "newcomer": UserFactory(username="newcomer").pk,
        "image": image.pk,
        "fresh_image": fresh_image.pk,
        "theirs": theirs.pk,
    }
    return World(project=project, other=other, users=users, ids=ids)


@pytest.fixture
def undoable(world, annotator, annotator2, make_images) -> dict[str, int]:
    """Work to take back: the annotator's own label and skip, and another annotator's skip.

    On images of their own, so that the world's other tests see the world as it was.
    """
    project = world.project
    labelled, skipped = make_images(project, 2)
    mine, _ = annotation_submit(
        project=project, annotator=annotator, image_id=labelled.pk, labels=["cat"]
    )
    my_skip = skip_create(project=project, annotator=annotator, image_id=skipped.pk)
    their_skip = skip_create(project=project, annotator=annotator2, image_id=skipped.pk)
    return {**world.ids, "mine": mine.pk, "my_skip": my_skip.pk, "their_skip": their_skip.pk}


def client_as(world: World, role: str) -> APIClient:
    return APIClient() if role == "anonymous" else client_for(world.users[role])


def fill(value: Any, ids: dict[str, int]) -> Any:
    """Put the world's ids into a path or body template ("{image}" becomes an int)."""
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_role_matrix(world, undoable, case, role):
    """Each endpoint answers each role as the rules say; a refusal writes nothing."""
    client = client_as(world, role)
    if case.name in ("annotation-submit", "skip-create") and role in world.users:
        hold(world.project, world.users[role], undoable["fresh_image"])  # as next/ would
    before = row_counts()
    path = case.path.format(**undoable)
    response = getattr(client, case.method)(path, fill(case.body, undoable), format="json")
    expected = case.expected[role]
    assert response.status_code == expected, getattr(response, "content", b"")
    if expected >= 400:
        assert row_counts() == before
        body = response.json()
        assert body["detail"]
        assert body["code"] == ERROR_CODES[expected]
    if expected == 401:
        assert response["WWW-Authenticate"] == "Token"
    if expected == 404 and role == "stranger":
        assert "not a member" in response.json()["detail"]
    response.close()


def test_project_list_shows_only_the_callers_projects(world):
    """Members list their own projects; admins list every project."""
    mine = client_for(world.users["annotator"]).get("/api/v1/projects/").json()["results"]
    assert [p["id"] for p in mine] == [world.project.pk]
    assert mine[0]["role"] == "annotator"
    theirs = client_for(world.users["stranger"]).get("/api/v1/projects/").json()["results"]
    assert [p["id"] for p in theirs] == [world.other.pk]
    everything = client_for(world.users["admin"]).get("/api/v1/projects/").json()["results"]
    assert {p["id"] for p in everything} == {world.project.pk, world.other.pk}


def test_users_me_is_the_caller(world):
    """`users/me/` answers with the caller's own account and never a password."""
    body = client_for(world.users["reviewer"]).get("/api/v1/users/me/").json()
    assert body["username"] == "reviewer"
    assert body["is_staff"] is False
    assert "password" not in body


def test_users_with_the_add_project_permission_create_projects(world):
    """The `projects.add_project` permission lets a non-admin create a project and lead it."""
    user = world.users["annotator"]
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    response = client_for(user).post(
        "/api/v1/projects/", {"name": "Mine", "labels": ["a", "b"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "lead"
    assert Project.objects.get(pk=response.json()["id"]).memberships.get().user == user


@pytest.fixture
def elsewhere(world, make_images) -> dict[str, int]:
    """An image, annotation and labels of the other project, whose ids a caller may guess."""
    image, skipped = make_images(world.other, 2)
    stranger = world.users["stranger"]
    annotation, _ = annotation_submit(
        project=world.other, annotator=stranger, image_id=image.pk, labels=["cat"]
    )
    return {
        "image": image.pk,
        "annotation": annotation.pk,
        "skip": skip_create(project=world.other, annotator=stranger, image_id=skipped.pk).pk,
        "label": world.other.labels.get(name="cat").pk,
        "member": stranger.pk,
    }


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("get", "images/{image}/", None, 404),
        ("get", "images/{image}/file/", None, 404),
        ("get", "images/{image}/history/", None, 404),
        ("get", "annotations/{annotation}/", None, 404),
        ("get", "members/{member}/", None, 404),
        ("patch", "members/{member}/", {"role": "lead"}, 404),
        ("delete", "members/{member}/", None, 404),
        ("delete", "annotations/{annotation}/", None, 404),
        ("get", "skips/{skip}/", None, 404),
        ("delete", "skips/{skip}/", None, 404),
        ("post", "skips/", {"image": "{image}"}, 400),
        ("post", "annotations/", {"image": "{image}", "labels": ["cat"]}, 400),
        ("post", "annotations/", {"image": "{fresh_image}", "labels": ["{label}"]}, 400),
    ],
)
@pytest.mark.parametrize("role", ["lead", "admin"])
def test_ids_of_another_project_are_refused(world, elsewhere, method, path, body, status, role):
    """Ids of another project's objects, sent through this project, reveal and change nothing."""
    ids = {**world.ids, **elsewhere}
    client = client_for(world.users[role])
    before = row_counts()
    url = f"/api/v1/projects/{world.project.pk}/" + path.format(**ids)
    response = getattr(client, method)(url, fill(body, ids), format="json")
    assert response.status_code == status, response.content
    assert response.json()["detail"]
    assert row_counts() == before
    assert "outsider" not in response.content.decode()


def test_an_annotator_never_sees_another_annotators_labels(world):
    """Blind labelling: lists, filters and ids never show an annotator someone else's labels."""
    client = client_for(world.users["annotator"])
    base = f"/api/v1/projects/{world.project.pk}/annotations/"
    assert client.get(base).json()["results"] == []
    assert client.get(f"{base}?annotator={world.ids['annotator2']}").json()["results"] == []
    assert client.get(f"{base}?image={world.ids['image']}").json()["results"] == []
    response = client.get(f"{base}{world.ids['theirs']}/")
    assert response.status_code == 404
    assert "dog" not in response.content.decode()
    for role in ("reviewer", "lead", "admin"):
        results = client_for(world.users[role]).get(base).json()["results"]
        assert [(a["annotator_username"], a["labels"]) for a in results] == [("ann2", ["dog"])]


def test_a_lead_elsewhere_is_only_an_annotator_here(world):
    """Roles are per project: leading one project grants nothing in another."""
    lead = world.users["lead"]
    add_member(world.other, lead, Role.ANNOTATOR)
    client = client_for(lead)
    before = row_counts()
    base = f"/api/v1/projects/{world.other.pk}"
    assert client.patch(f"{base}/", {"name": "Mine now"}, format="json").status_code == 403
    assert client.delete(f"{base}/").status_code == 403
    assert client.get(f"{base}/export/").status_code == 403
    assert client.get(f"{base}/members/").status_code == 403
    member = {"user": lead.pk, "role": "lead"}
    assert client.post(f"{base}/members/", member, format="json").status_code == 403
    assert row_counts() == before
    assert Project.objects.get(pk=world.other.pk).name == "Other"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/projects/abc/", "/api/v1/projects/99999999999999999999/", "/api/v1/projects/0/"],
)
def test_project_ids_that_cannot_exist_answer_404(world, path):
    """A malformed or out-of-range project id is a 404 like any other, never a 500."""
    response = client_for(world.users["admin"]).get(path)
    assert response.status_code == 404


def test_out_of_range_ids_in_project_routes_answer_404(world):
    """Huge ids in nested routes are simply not found."""
    client = client_for(world.users["lead"])
    huge = 10**20
    for route in ("next", "progress", "history", "skips"):
        assert client.get(f"/api/v1/projects/{huge}/{route}/").status_code == 404
    base = f"/api/v1/projects/{world.project.pk}"
    assert client.get(f"{base}/images/{huge}/").status_code == 404
    assert client.get(f"{base}/annotations/{huge}/").status_code == 404
    assert client.delete(f"{base}/annotations/{huge}/").status_code == 404
    assert client.get(f"{base}/skips/{huge}/").status_code == 404
    assert client.delete(f"{base}/skips/{huge}/").status_code == 404
    assert client.get(f"{base}/members/{huge}/").status_code == 404
    assert client.get(f"{base}/images/{huge}/history/").status_code == 404
    assert client.get(f"{base}/label-history/?image={huge}").status_code == 400
    assert client.get(f"{base}/label-history/?changed_by={huge}").status_code == 400
    assert Image.objects.count() == 2
    assert Annotation.objects.count() == 1
