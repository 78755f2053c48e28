"""A place another project registered is not a lead's to read in place.

The routes are found in the OpenAPI schema drf-spectacular generates: every operation whose
body names a place on the server (a folder's ``path`` or a ``bucket``). A route added
later that takes one is tried here as it comes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from labeler.images.models import Image
from labeler.projects.models import Project, Role
from labeler.references.models import Reference
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.s3 import Bucket, moto_server, s3_bucket  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

PLACES = ("path", "bucket")


def place_operations() -> list[tuple[str, str]]:
    """(method, path template) of every operation whose request body names a place."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                body = components.get(ref.rsplit("/", 1)[-1], media.get("schema", {}))
                if set(body.get("properties", {})) & set(PLACES):
                    found.append((method, template))
    return sorted(set(found))


@pytest.fixture
def places(settings, tmp_path) -> dict[str, Path]:
    """An allowed root holding the first project's folder, a folder in it and a free one."""
    root = tmp_path / "mnt"
    for folder in ("theirs/day1", "free"):
        (root / folder).mkdir(parents=True)
    (root / "theirs" / "day1" / "secret.png").write_bytes(image_bytes())
    settings.LABELER_REFERENCE_ROOTS = [str(root)]
    return {"root": root, "theirs": root / "theirs", "free": root / "free"}


@pytest.fixture
def theirs(places, django_capture_on_commit_callbacks) -> Project:
    """Another project, whose lead registered its folder and bucket prefix."""
    other = ProjectFactory(name="Theirs")
    their_lead = UserFactory(username="their-lead")
    add_member(other, their_lead, Role.LEAD)
    Reference.objects.create(project=other, kind="folder", path=str(places["theirs"]))
    Reference.objects.create(project=other, kind="s3", bucket="shared-bucket", prefix="theirs/")
    return other


def send(user: Any, method: str, template: str, project: Project, body: dict) -> Any:
    path = template.replace("{project_pk}", str(project.pk))
    return getattr(client_for(user), method)(path, body, format="json")


def refused_bodies(places: dict[str, Path]) -> dict[str, dict[str, str]]:
    return {
        "their folder": {"kind": "folder", "path": str(places["theirs"])},
        "a folder inside it": {"kind": "folder", "path": str(places["theirs"] / "day1")},
        "the root holding it": {"kind": "folder", "path": str(places["root"])},
        "their prefix": {"kind": "s3", "bucket": "shared-bucket", "prefix": "theirs/"},
        "the bucket holding it": {"kind": "s3", "bucket": "shared-bucket"},
        "a prefix inside it": {"kind": "s3", "bucket": "shared-bucket", "prefix": "theirs/a"},
    }


def test_the_schema_names_the_routes_that_take_a_place():
    assert ("post", "/api/v1/projects/{project_pk}/references/") in place_operations()


@pytest.mark.parametrize("operation", place_operations())
def test_a_lead_cannot_register_a_place_another_project_registered(
    project, lead, places, theirs, settings, operation
):
    """403 naming the place, nothing recorded, no image of theirs read into this project."""
    settings.LABELER_REFERENCE_BUCKETS = ["shared-bucket"]
    method, template = operation
    for what, body in refused_bodies(places).items():
        response = send(lead, method, template, project, body)
        assert response.status_code == 403, (what, response.json())
        assert "another project" in response.json()["detail"], what
    assert not project.references.exists()
    assert not Image.objects.filter(project=project).exists()


@pytest.mark.parametrize("operation", place_operations())
def test_free_places_and_their_own_leads_and_admins_still_register(
    project, lead, admin_user, places, theirs, operation, django_capture_on_commit_callbacks
):
    """A free folder in an allowed root is any lead's; a lead of both projects, and an
    admin, may register the other project's folder."""
    method, template = operation
    free = {"kind": "folder", "path": str(places["free"])}
    their_folder = {"kind": "folder", "path": str(places["theirs"])}
    with django_capture_on_commit_callbacks(execute=True):
        assert send(lead, method, template, project, free).status_code == 202
        assert send(admin_user, method, template, project, their_folder).status_code == 202
        add_member(theirs, lead, Role.LEAD)
        assert send(lead, method, template, project, their_folder).status_code == 202


def test_another_projects_registrations_are_not_visible(project, lead, theirs):
    """Listed and read through their own project only: to others' leads, a 404."""
    reference = theirs.references.first()
    assert reference is not None
    other_url = f"/api/v1/projects/{theirs.pk}/references/"
    assert client_for(lead).get(other_url).status_code == 404
    assert client_for(lead).get(f"{other_url}{reference.pk}/").status_code == 404
    mine = f"/api/v1/projects/{project.pk}/references/{reference.pk}/"
    assert client_for(lead).get(mine).status_code == 404


def test_a_bucket_prefix_of_theirs_is_refused_before_anything_is_read(
    project, lead, theirs, s3: Bucket, settings
):
    """Even with the bucket allowed on the server and holding their images."""
    s3.put("theirs/photo.png", image_bytes())
    Reference.objects.filter(project=theirs, kind="s3").update(bucket=s3.name)
    body = {"kind": "s3", "bucket": s3.name, "prefix": "theirs/"}
    response = send(lead, "post", "/api/v1/projects/{project_pk}/references/", project, body)
    assert response.status_code == 403
    assert response.json()["errors"].keys() == {"bucket"}
