"""Image addresses: for the logged-in member they were made for, while they live."""

from __future__ import annotations

import functools

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from labeler.images.delivery import links
from labeler.projects.models import Membership
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

ONE_YEAR = 31_536_000


def browser(user) -> Client:
    """A logged-in browser, its session in the cache (as after its first page)."""
    client = Client()
    client.force_login(user)
    client.get("/")
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_link_serves_its_user_the_file_with_one_query(project, annotator, make_images):
    """One query (the user and the membership); cached privately while the address lives."""
    (image,) = make_images(project, 1)
    client = browser(annotator)
    url = links.file_link(image.file.name, user_id=annotator.pk)
    assert image.sha256 in url

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)

    assert response.status_code == 200
    assert len(queries) == 1
    assert body(response) == image.file.read()
    assert response["Content-Type"] == "image/png"
    max_age = settings.LABELER_FILE_LINK_SECONDS // 2
    assert response["Cache-Control"].startswith("private, max-age=")
    assert response["Cache-Control"].endswith(", immutable")
    assert max_age <= int(response["Cache-Control"].split("=")[1].split(",")[0]) <= 2 * max_age
    assert "Cookie" in response["Vary"]  # another browser's cookie does not share the copy


def test_the_api_hands_out_links_for_the_caller(project, annotator, annotator2, make_images):
    """next/ gives each annotator an address of their own; each works for its user only."""
    make_images(project, 1)
    mine, theirs = browser(annotator), browser(annotator2)
    url = mine.get(f"/api/v1/projects/{project.pk}/next/").json()["image"]["file_url"]

    assert mine.get(url).status_code == 200
    assert theirs.get(url).status_code == 404
    assert Client().get(url).status_code == 403


def test_a_link_repeats_for_half_its_life_and_expires_after_it(
    project, annotator, make_images, monkeypatch, settings
):
    settings.LABELER_FILE_LINK_SECONDS = 3600
    (image,) = make_images(project, 1)
    client = browser(annotator)
    monkeypatch.setattr(links, "_now", lambda: 1_800_000_000.0)  # a half-hour's start
    url = links.file_link(image.file.name, user_id=annotator.pk)

    monkeypatch.setattr(links, "_now", lambda: 1_800_001_799.0)
    assert links.file_link(image.file.name, user_id=annotator.pk) == url
    assert client.get(url)["Cache-Control"] == "private, max-age=1801, immutable"
    monkeypatch.setattr(links, "_now", lambda: 1_800_001_800.0)
    assert links.file_link(image.file.name, user_id=annotator.pk) != url
    monkeypatch.setattr(links, "_now", lambda: 1_800_003_599.0)
    assert client.get(url).status_code == 200
    monkeypatch.setattr(links, "_now", lambda: 1_800_003_600.0)
    expired = client.get(url)
    assert expired.status_code == 404
    assert expired.content == b"This image address is wrong or has expired; reload the page."


def test_a_link_is_refused_after_logout(project, annotator, make_images):
    """Logging out ends the session the link was fetched with, even for its old cookie."""
    (image,) = make_images(project, 1)
    client = browser(annotator)
    url = links.file_link(image.file.name, user_id=annotator.pk)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(url).status_code == 200

    client.post("/logout/")

    refused = client.get(url)
    assert refused.status_code == 403
    assert b"log in and reload the page" in refused.content
    replayed = Client()
    replayed.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert replayed.get(url).status_code == 403


def test_a_link_is_refused_once_the_member_is_removed_or_deactivated(
    project, annotator, annotator2, make_images
):
    (image,) = make_images(project, 1)
    removed, deactivated = browser(annotator), browser(annotator2)
    removed_url = links.file_link(image.file.name, user_id=annotator.pk)
    deactivated_url = links.file_link(image.file.name, user_id=annotator2.pk)
    assert removed.get(removed_url).status_code == 200

    Membership.objects.filter(project=project, user=annotator).delete()
    annotator2.is_active = False
    annotator2.save(update_fields=["is_active"])

    response = removed.get(removed_url)
    assert response.status_code == 403
    assert response.content == b"You are not a member of this image's project."
    assert deactivated.get(deactivated_url).status_code == 403


def test_a_password_change_ends_the_links_of_the_other_sessions(project, annotator, make_images):
    """As Django's own session check: a session made with the old password no longer counts."""
    (image,) = make_images(project, 1)
    client = browser(annotator)
    url = links.file_link(image.file.name, user_id=annotator.pk)
    annotator.set_password("another-horse-battery")
    annotator.save(update_fields=["password"])

    assert client.get(url).status_code == 403


def test_an_api_token_fetches_its_users_links(project, annotator, annotator2, make_images):
    (image,) = make_images(project, 1)
    url = links.file_link(image.file.name, user_id=annotator.pk)
    token = Token.objects.create(user=annotator).key
    other = Token.objects.create(user=annotator2).key

    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {other}").status_code == 404
    for wrong in ("Token x", "Token ", "Token \x00", f"Token {'a' * 500}", "Bearer x"):
        assert Client().get(url, HTTP_AUTHORIZATION=wrong).status_code == 403, wrong


def test_staff_read_every_projects_files(admin_user, make_images):
    (image,) = make_images(ProjectFactory(), 1)
    url = links.file_link(image.file.name, user_id=admin_user.pk)
    assert browser(admin_user).get(url).status_code == 200


def test_a_signed_link_to_another_projects_file_is_refused(annotator, make_images):
    """Signed with the site's key but for a file of a project the user is not in: 403."""
    (image,) = make_images(ProjectFactory(), 1)
    url = links.file_link(image.file.name, user_id=annotator.pk)
    assert browser(annotator).get(url).status_code == 403


@pytest.mark.parametrize(
    "name",
    ["exports/{p}/labels.csv", "images/{p}", "images/0{p}/x.png", "media/{p}/x.png", "x.png"],
)
def test_only_images_and_thumbnails_have_addresses(project, annotator, media_root, name):
    """Nothing else in storage (an export's file, say) is served, even signed with the key."""
    name = name.format(p=project.pk)
    (media_root / name).parent.mkdir(parents=True, exist_ok=True)
    (media_root / name).write_bytes(b"image_id,file_name\n1,secret.png\n")
    url = links.file_link(name, user_id=annotator.pk)
    assert browser(annotator).get(url).status_code == 404


def test_a_forged_or_altered_link_is_refused(project, annotator, make_images):
    first, second = make_images(project, 2)
    client = browser(annotator)
    url = links.file_link(first.file.name, user_id=annotator.pk)
    # Another file under the first one's signature.
    assert client.get(url.replace(first.file.name, second.file.name)).status_code == 404
    issued = url.split("/")[2]
    # The same file issued at another time: the signature covers the time.
    assert client.get(url.replace(f"/{issued}/", f"/{int(issued) + 1}/", 1)).status_code == 404
    signature = url.split("/")[3]
    # One character changed, whatever the signature starts with.
    altered = ("y" if signature[0] == "x" else "x") + signature[1:]
    assert client.get(url.replace(signature, altered)).status_code == 404


def test_a_link_to_a_missing_file_is_a_404(project, annotator, make_images):
    (image,) = make_images(project, 1)
    url = links.file_link(image.file.name, user_id=annotator.pk)
    image.file.storage.delete(image.file.name)
    response = browser(annotator).get(url)
    assert response.status_code == 404
    assert response.content == b"The stored file is missing."


def test_the_api_file_endpoint_keeps_its_year(project, annotator, make_images):
    """The authenticated image endpoint's address never changes: browsers keep it a year."""
    (image,) = make_images(project, 1)
    response = browser(annotator).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/file/")
    assert response["Cache-Control"] == f"private, max-age={ONE_YEAR}, immutable"


def test_a_display_copy_is_served_to_members_of_its_project_only(
    project, annotator, media_root, make_images
):
    """Display copies live under displays/<project>/, checked as images and thumbnails are."""
    (mine,) = make_images(project, 1)
    (theirs,) = make_images(ProjectFactory(), 1)
    for image in (mine, theirs):
        name = f"displays/{image.project_id}/{image.sha256}.jpg"
        (media_root / name).parent.mkdir(parents=True, exist_ok=True)
        (media_root / name).write_bytes((media_root / image.file.name).read_bytes())
        type(image).objects.filter(pk=image.pk).update(display=name)
    client = browser(annotator)
    shown = client.get(
        links.file_link(f"displays/{project.pk}/{mine.sha256}.jpg", user_id=annotator.pk)
    )
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    other = f"displays/{theirs.project_id}/{theirs.sha256}.jpg"
    assert client.get(links.file_link(other, user_id=annotator.pk)).status_code == 403
    assert Client().get(links.file_link(other, user_id=annotator.pk)).status_code == 403


def test_a_link_is_valid_then_expired_and_a_changed_one_forged(monkeypatch):
    """The one signer of addresses: any name, any lifetime; expired and forged told apart."""
    monkeypatch.setattr(links, "_now", lambda: 1_000_000.0)
    issued, signature = links.link_signed("model/1/2/onnx", user_id=5, lifetime=600)
    assert issued == 1_000_000 // 300 * 300
    state = functools.partial(links.link_state, issued=issued, lifetime=600)
    assert state(name="model/1/2/onnx", signature=signature, user_id=5) == "valid"
    assert state(name="model/1/2/card_md", signature=signature, user_id=5) == "forged"
    assert state(name="model/1/2/onnx", signature=signature, user_id=6) == "forged"
    assert state(name="model/1/2/onnx", signature=signature + "x", user_id=5) == "forged"
    monkeypatch.setattr(links, "_now", lambda: issued + 600.0)
    assert state(name="model/1/2/onnx", signature=signature, user_id=5) == "expired"
