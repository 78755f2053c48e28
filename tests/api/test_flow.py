"""The whole REST flow, through real URLs and token authentication."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from labeler.annotations.models import Annotation, AnnotationRevision
from tests.factories import image_bytes

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


def login(username: str, password: str) -> APIClient:
    anonymous = APIClient()
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_rest_flow_from_accounts_to_export(admin_user, db):
    """Admin creates accounts; a lead builds a project; annotators label; the lead exports."""
    admin_user.set_password("admin-pass-123")
    admin_user.save()
    admin = login("admin", "admin-pass-123")

    ids = {}
    for name in ("alice", "bob", "carol"):
        response = admin.post(
            "/api/v1/users/", {"username": name, "password": "s3cret-pass-99"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert "password" not in response.json()
        ids[name] = response.json()["id"]
    from django.contrib.auth import get_user_model

    get_user_model().objects.get(pk=ids["alice"]).user_permissions.add(
        Permission.objects.get(codename="add_project")
    )

    alice = login("alice", "s3cret-pass-99")
    response = alice.post(
        "/api/v1/projects/",
        {
            "name": "Pets",
            "labels": ["cat", {"name": "dog", "color": "#00ff00", "hotkey": "d"}],
            "multi_label": False,
            "overlap": 2,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    project = response.json()
    pid = project["id"]
    assert [label["name"] for label in project["labels"]] == ["cat", "dog"]
    assert project["labels"][1]["hotkey"] == "d"
    assert project["labels"][0]["hotkey"] == "1"
    assert project["role"] == "lead"

    for name in ("bob", "carol"):
        response = alice.post(
            f"/api/v1/projects/{pid}/members/",
            {"user": ids[name], "role": "annotator"},
            format="json",
        )
        assert response.status_code == 201, response.content

    archive = zip_of({"batch/a.png": image_bytes(), "batch/b.jpg": image_bytes("JPEG")})
    response = alice.post(
        f"/api/v1/projects/{pid}/images/",
        {
            "files": [
                SimpleUploadedFile("one.png", image_bytes(seed=1)),
                SimpleUploadedFile("copy.png", image_bytes(seed=1)),
                SimpleUploadedFile("pics.zip", archive),
            ]
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (3, 1, 0)
    statuses = {r["name"]: r["status"] for r in body["results"]}
    assert statuses == {
        "one.png": "created",
        "copy.png": "duplicate",
        "batch/a.png": "created",
        "batch/b.jpg": "created",
    }

    bob, carol = login("bob", "s3cret-pass-99"), login("carol", "s3cret-pass-99")
    for client in (bob, carol):
        for _ in range(3):
            response = client.get(f"/api/v1/projects/{pid}/next/")
            assert response.status_code == 200, response.content
            image = response.json()["image"]
            file_response = client.get(image["file_url"])
            assert file_response.status_code == 200
            assert b"".join(file_response.streaming_content)[:4] in (
                b"\x89PNG",
                b"\xff\xd8\xff\xe0",
            )
            response = client.post(
                f"/api/v1/projects/{pid}/annotations/",
                {"image": image["id"], "labels": ["cat"], "time_spent_ms": 900},
                format="json",
            )
            assert response.status_code == 201, response.content
        assert client.get(f"/api/v1/projects/{pid}/next/").status_code == 204

    # Bob changes his mind on one image: the annotation is updated, history kept.
    first = bob.get(f"/api/v1/projects/{pid}/annotations/").json()["results"][0]
    response = bob.post(
        f"/api/v1/projects/{pid}/annotations/",
        {"image": first["image"], "labels": ["dog"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["labels"] == ["dog"]
    assert Annotation.objects.count() == 6
    assert AnnotationRevision.objects.filter(annotation_id=first["id"]).count() == 2

    # Annotators see only their own annotations; the lead sees all of them.
    assert len(bob.get(f"/api/v1/projects/{pid}/annotations/").json()["results"]) == 3
    assert len(alice.get(f"/api/v1/projects/{pid}/annotations/").json()["results"]) == 6

    response = alice.get(f"/api/v1/projects/{pid}/export/?format=json")
    assert response.status_code == 200
    exported = json.loads(b"".join(response.streaming_content))
    assert len(exported["images"]) == 3
    by_image = {row["id"]: row for row in exported["images"]}
    assert sorted(a["annotator"] for a in by_image[first["image"]]["annotations"]) == [
        "bob",
        "carol",
    ]
    assert {a["annotator"]: a["labels"] for a in by_image[first["image"]]["annotations"]}[
        "bob"
    ] == ["dog"]

    response = alice.get(f"/api/v1/projects/{pid}/export/?format=csv")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 6
    assert {row["annotator"] for row in rows} == {"bob", "carol"}

    assert bob.get(f"/api/v1/projects/{pid}/export/?format=csv").status_code == 403


def test_unknown_api_paths_answer_json_404(admin_user, api_as):
    """A mistyped URL under /api/ gets a JSON error, like every other API failure."""
    response = api_as(admin_user).get("/api/v1/projects/abc/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "/api/v1/projects/abc/" in response.json()["detail"]


def test_unknown_page_answers_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content
