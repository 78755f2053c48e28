"""/projects/{id}/references/: register a bucket or folder, follow its scan, see its images."""

from __future__ import annotations

import datetime
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import botocore.auth
import pytest
from django.test import Client

from labeler.images.models import Image
from tests.api.test_original_bytes import leaks, private_photo
from tests.conftest import client_for
from tests.factories import image_bytes
from tests.s3 import Bucket, moto_server, s3_bucket  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/references/"


@pytest.fixture
def post(url, django_capture_on_commit_callbacks):
    """POST as a user, the scan run to its end once the request committed."""

    def send(user, body):
        with django_capture_on_commit_callbacks(execute=True):
            return client_for(user).post(url, body, format="json")

    return send


def fetch(address: str) -> tuple[int, bytes, str]:
    """GET an absolute address as a browser would (no cookies, no token)."""
    try:
        with urllib.request.urlopen(address, timeout=10) as answer:
            return answer.status, answer.read(), answer.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def test_a_lead_registers_a_bucket_and_follows_its_scan(project, lead, s3: Bucket, post, url):
    s3.put("set-1/a.png", image_bytes())
    s3.put("set-1/b.png", image_bytes())

    response = post(lead, {"kind": "s3", "bucket": s3.name, "prefix": "set-1/"})

    assert response.status_code == 202
    started = response.json()
    assert (started["status"], started["location"]) == ("queued", f"s3://{s3.name}/set-1/")
    detail = client_for(lead).get(f"{url}{started['id']}/").json()
    assert (detail["status"], detail["found"], detail["created"]) == ("done", 2, 2)
    assert detail["created_by"] == "lead"
    listed = client_for(lead).get(url).json()
    assert [item["id"] for item in listed["results"]] == [started["id"]]


def test_a_bucket_image_is_shown_from_a_presigned_address(
    project, lead, annotator, s3: Bucket, post, settings
):
    """A lead's file_url is the bucket's own, fetched without any credentials, for a while;
    an annotator's is this site's, which serves the photo without its metadata."""
    data = private_photo(located=False)
    s3.put("photo.jpg", data)
    post(lead, {"kind": "s3", "bucket": s3.name})
    image = Image.objects.get(project=project)
    path = f"/api/v1/projects/{project.pk}/images/{image.pk}/"

    mine = client_for(annotator).get(path).json()["file_url"]
    assert mine.startswith("http://testserver/files/")
    browser = Client()
    browser.force_login(annotator)
    stripped = b"".join(browser.get(mine).streaming_content)
    assert not leaks(stripped)
    address = client_for(lead).get(path).json()["file_url"]
    assert address.startswith(f"{s3.endpoint}/{s3.name}/photo.jpg?")
    assert fetch(address) == (200, data, "image/jpeg")

    query = parse_qs(urlsplit(address).query)
    assert query["X-Amz-Expires"] == [str(settings.LABELER_S3_PRESIGN_SECONDS)]
    signed_at = time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    age = time.time() - time.mktime(signed_at) + time.mktime(time.gmtime(0))
    assert -5 <= age <= settings.LABELER_S3_PRESIGN_SECONDS // 2 + 5


def test_presigned_addresses_repeat_for_half_their_life_then_change(
    project, lead, s3: Bucket, post, settings, monkeypatch
):
    """The browser's cache keeps hitting meanwhile; each works for half a lifetime more."""
    s3.put("photo.png", image_bytes())
    post(lead, {"kind": "s3", "bucket": s3.name})
    image = Image.objects.get(project=project)
    settings.LABELER_S3_PRESIGN_SECONDS = 120
    path = f"/api/v1/projects/{project.pk}/images/{image.pk}/"
    now = 60.0 * 31_666_666  # the start of a half-lifetime
    monkeypatch.setattr(time, "time", lambda: now)
    # botocore's signing clock too, so that the signing time shows in the address.
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda remove_tzinfo=True: datetime.datetime.fromtimestamp(now, datetime.UTC).replace(
            tzinfo=None
        ),
    )

    first = client_for(lead).get(path).json()["file_url"]
    now += 59
    assert client_for(lead).get(path).json()["file_url"] == first
    now += 2
    later = client_for(lead).get(path).json()["file_url"]
    assert later != first
    assert parse_qs(urlsplit(later).query)["X-Amz-Expires"] == ["120"]
    assert parse_qs(urlsplit(later).query)["X-Amz-Date"] == ["20300317T174701Z"]


def test_without_presigning_a_bucket_image_goes_through_the_signed_links(
    project, lead, annotator, outsider, s3: Bucket, post, settings
):
    settings.LABELER_S3_PRESIGN = False
    data = image_bytes()
    s3.put("photo.png", data)
    post(lead, {"kind": "s3", "bucket": s3.name})
    image = Image.objects.get(project=project)
    body = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/").json()
    assert body["file_url"].startswith("http://testserver/files/")

    browser = Client()
    browser.force_login(annotator)
    response = browser.get(body["file_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    stranger = Client()
    stranger.force_login(outsider)
    assert stranger.get(body["file_url"]).status_code == 404  # made for the annotator only


def test_a_folder_image_is_served_from_the_folder_to_members(
    project, lead, annotator, post, settings, tmp_path
):
    root = tmp_path / "mnt"
    (root / "set").mkdir(parents=True)
    data = image_bytes()
    (root / "set" / "a.png").write_bytes(data)
    settings.LABELER_REFERENCE_ROOTS = [str(root)]

    assert post(lead, {"kind": "folder", "path": str(root / "set")}).status_code == 202

    image = Image.objects.get(project=project)
    body = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/").json()
    browser = Client()
    browser.force_login(annotator)
    response = browser.get(body["file_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    file_route = f"/api/v1/projects/{project.pk}/images/{image.pk}/file/"
    assert b"".join(client_for(annotator).get(file_route).streaming_content) == data


def test_a_folder_file_swapped_for_a_link_out_of_the_roots_is_not_served(
    project, lead, annotator, post, settings, tmp_path
):
    """Every read checks the file's real path again, not only the registration."""
    root = tmp_path / "mnt"
    root.mkdir()
    photo = root / "a.png"
    photo.write_bytes(image_bytes())
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes())
    settings.LABELER_REFERENCE_ROOTS = [str(root)]
    post(lead, {"kind": "folder", "path": str(root)})
    image = Image.objects.get(project=project)
    photo.unlink()
    photo.symlink_to(secret)

    response = client_for(annotator).get(f"/api/v1/projects/{project.pk}/images/{image.pk}/file/")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"kind": "ftp"}, "kind", "is not a valid choice"),
        ({"kind": "s3", "bucket": "Bad_Name"}, "bucket", "is not a bucket name"),
        ({"kind": "s3", "bucket": "x" * 64}, "bucket", "At most 63 characters"),
        ({"kind": "s3", "bucket": "photos", "prefix": 7}, "prefix", "Must be text"),
        ({"kind": "folder", "path": "/etc"}, "path", "is not inside a folder"),
        ({"kind": "folder", "path": "{root}/../../etc"}, "path", "without '..'"),
        ({"kind": "folder", "path": "{root}/escape"}, "path", "is not inside a folder"),
        ({"kind": "folder"}, "path", "must be a folder's absolute path"),
    ],
)
def test_bad_registrations_are_refused_with_the_reason(
    project, lead, s3: Bucket, post, settings, tmp_path, body, field, message
):
    root = tmp_path / "mnt"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    settings.LABELER_REFERENCE_ROOTS = [str(root)]
    body = {key: value.format(root=root) if isinstance(value, str) else value
            for key, value in body.items()}  # fmt: skip

    response = post(lead, body)

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert message in response.json()["detail"]
    assert not project.references.exists()


def test_the_scan_reports_a_missing_bucket(project, lead, s3: Bucket, post, url):
    started = post(lead, {"kind": "s3", "bucket": "nobody-made-this"}).json()

    detail = client_for(lead).get(f"{url}{started['id']}/").json()

    assert detail["status"] == "failed"
    assert detail["error"] == f"Bucket 'nobody-made-this' does not exist at {s3.endpoint}."


@pytest.mark.parametrize("who", ["annotator", "reviewer", "outsider"])
def test_only_leads_and_admins_register(project, s3: Bucket, post, url, who, request):
    user = request.getfixturevalue(who)
    response = post(user, {"kind": "s3", "bucket": s3.name})
    assert response.status_code == (404 if who == "outsider" else 403)
    assert client_for(user).get(url).status_code == (404 if who == "outsider" else 403)


def test_an_unknown_reference_is_not_found(project, lead, url):
    assert client_for(lead).get(f"{url}12345/").status_code == 404
    assert client_for(lead).get(f"{url}{2**70}/").status_code == 404


def test_a_registration_is_json_only(project, lead, url, tmp_path: Path):
    body = {"kind": "folder", "path": str(tmp_path)}
    response = client_for(lead).post(url, body, format="multipart")
    assert response.status_code == 415
