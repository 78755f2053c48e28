"""Signed image addresses of Label Studio exports: served without logging in while valid,
refused with a 4xx otherwise, readable from the named Label Studio origin only."""

from __future__ import annotations

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from labeler import flows
from labeler.exports.links import export_link, link_expiry
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.api.test_original_bytes import leaks, private_photo
from tests.factories import ProjectFactory, add_member
from tests.labeler.exports.formats import export_bytes

pytestmark = pytest.mark.django_db

ORIGIN = "https://labelstudio.example.org"


@pytest.fixture
def photo(project, django_capture_on_commit_callbacks):
    """A JPEG with its owner's name, camera serial and GPS position in its metadata."""
    upload = SimpleUploadedFile("located.jpg", private_photo(located=True))
    with django_capture_on_commit_callbacks(execute=True):
        (result,) = flows.images_ingest(project=project, files=[upload])
    return Image.objects.get(pk=result.image_id)


def link_for(image, user, *, days: int = 7, origin: str = ORIGIN, expires: int | None = None):
    return export_link(
        project_id=image.project_id,
        image_id=image.pk,
        user_id=user.pk,
        expires=link_expiry(days) if expires is None else expires,
        origin=origin,
    )


def fetch(path: str, origin: str | None = ORIGIN):
    """As Label Studio's page fetches it: no session, no token, its Origin sent."""
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return Client().get(path, **headers)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_valid_address_serves_the_image_to_anyone_holding_it(photo, lead):
    response = fetch(link_for(photo, lead))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response["Vary"]
    max_age = int(response["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert 7 * 86_400 - 60 < max_age <= 7 * 86_400


def test_it_serves_the_copy_without_metadata_unless_the_project_keeps_it(project, photo, lead):
    """As the export zips do: the GPS position and the owner stay home by default."""
    stripped = body(fetch(link_for(photo, lead)))
    assert stripped != photo.file.read() and not leaks(stripped)
    project.export_keep_metadata = True
    project.save()
    photo.file.seek(0)
    assert body(fetch(link_for(photo, lead))) == photo.file.read()


def test_cors_answers_the_named_origin_only(photo, lead):
    link = link_for(photo, lead)
    assert "Access-Control-Allow-Origin" not in fetch(link, origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in fetch(link, origin=None)
    assert fetch(link, origin=None).status_code == 200  # an <img> without CORS loads it
    unnamed = link_for(photo, lead, origin="")
    assert "Access-Control-Allow-Origin" not in fetch(unnamed)


def test_an_expired_address_is_gone(photo, lead):
    response = fetch(link_for(photo, lead, expires=int(time.time()) - 1))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # Label Studio can read why


@pytest.mark.parametrize(
    "change",
    [
        lambda path: path[:-1] + ("A" if path[-1] != "A" else "B"),  # the signature
        lambda path: path[:-30],  # cut short
        lambda path: path + "x",
        lambda path: path.rsplit("/", 1)[0] + "/not-a-token",
        lambda path: path.rsplit("/", 1)[0] + "/" + "A" * 5000,
        lambda path: path.rsplit("/", 1)[0] + "/W10:1abc:xyz",  # "[]" signed by no one
    ],
)
def test_a_changed_address_is_not_found(photo, lead, change):
    response = fetch(change(link_for(photo, lead)))
    assert response.status_code == 404
    assert "Access-Control-Allow-Origin" not in response


def test_an_address_used_for_another_image_or_project_is_not_found(
    project, photo, lead, make_images
):
    """The signature names the project and the image: another's path, the same token, 404."""
    (other_image,) = make_images(project, 1)
    elsewhere = ProjectFactory(name="Elsewhere")
    add_member(elsewhere, lead, Role.LEAD)
    (foreign,) = make_images(elsewhere, 1)
    token = link_for(photo, lead).rsplit("/", 1)[1]
    for project_id, image_id in [
        (project.pk, other_image.pk),
        (elsewhere.pk, foreign.pk),
        (elsewhere.pk, photo.pk),
    ]:
        assert fetch(f"/export-files/{project_id}/{image_id}/{token}").status_code == 404
    # Signed for a project the image is not in (never made by an export): not found either.
    crossed = export_link(
        project_id=elsewhere.pk, image_id=photo.pk, user_id=lead.pk, expires=link_expiry(1)
    )
    assert fetch(crossed).status_code == 404


def test_a_deleted_image_is_not_found(photo, lead):
    link = link_for(photo, lead)
    photo.delete()
    assert fetch(link).status_code == 404


def test_addresses_stop_working_once_the_exporter_no_longer_leads(project, photo, lead):
    link = link_for(photo, lead)
    project.memberships.filter(user=lead).update(role=Role.ANNOTATOR)
    response = fetch(link)
    assert response.status_code == 403
    assert "no longer leads" in response.content.decode()
    project.memberships.filter(user=lead).update(role=Role.LEAD)
    assert fetch(link).status_code == 200
    lead.is_active = False
    lead.save()
    assert fetch(link).status_code == 403


def test_an_admin_exporter_is_served_without_a_membership(photo, admin_user):
    assert fetch(link_for(photo, admin_user)).status_code == 200


def test_only_get_is_answered(photo, lead):
    link = link_for(photo, lead)
    assert Client().post(link).status_code == 405
    assert Client().put(link).status_code == 405


def test_the_export_writes_addresses_that_serve_its_images(project, photo):
    """End to end: each task's address, fetched as Label Studio does."""
    (task,) = json.loads(export_bytes(project, format="label-studio", label_studio_origin=ORIGIN))
    response = fetch(task["data"]["image"].removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
