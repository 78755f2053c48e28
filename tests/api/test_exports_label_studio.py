"""Label Studio exports through the API: direct, in the background and of a selection,
each naming its images by absolute signed addresses that Label Studio's pages load."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client

from labeler.exports.models import Export
from tests.conftest import client_for
from tests.labeler.exports.data import annotate, labelled_images

pytestmark = pytest.mark.django_db

ORIGIN = "http://localhost:8080"


@pytest.fixture
def images(project, make_images, annotator):
    images = make_images(project, 2)
    labelled_images(project, images, ["cat", "dog"])
    annotate(images[0], annotator, ["cat"])
    return images


def loaded_by_label_studio(task: dict) -> None:
    """The task's image fetched as Label Studio's page does: no login, its Origin sent."""
    url = task["data"]["image"]
    assert url.startswith("http://testserver/export-files/")
    response = Client().get(url.removeprefix("http://testserver"), HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Content-Type"] == "image/png"


def test_a_direct_download_names_images_by_signed_addresses(project, lead, images):
    url = f"/api/v1/projects/{project.pk}/export/"
    query = {"format": "label-studio", "label_studio_origin": ORIGIN}
    response = client_for(lead).get(url, query)
    assert response.status_code == 200
    tasks = json.loads(b"".join(response.streaming_content))
    assert len(tasks) == 2
    for task in tasks:
        loaded_by_label_studio(task)
    assert tasks[0]["annotations"][0]["completed_by"] == {"email": "ann1@labeler.invalid"}


def test_a_background_export_keeps_the_address_it_was_asked_at(
    project, lead, images, django_capture_on_commit_callbacks
):
    """The worker has no request: the site's address travels with the export."""
    client = client_for(lead)
    body = {"format": "label-studio", "label_studio_origin": ORIGIN, "link_expiry_days": 2}
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/api/v1/projects/{project.pk}/exports/", body, format="json")
    assert started.status_code == 202, started.content
    export = Export.objects.get(pk=started.json()["id"])
    assert export.base_url == "http://testserver/"
    assert started.json()["options"]["link_expiry_days"] == 2
    download = client.get(f"/api/v1/exports/{export.pk}/download/")
    tasks = json.loads(b"".join(download.streaming_content))
    for task in tasks:
        loaded_by_label_studio(task)


def test_an_export_of_a_selection_names_images_by_signed_addresses(
    project, lead, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    body = {
        "action": "export",
        "selection": {"ids": [images[1].pk]},
        "format": "label-studio",
        "label_studio_origin": ORIGIN,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/projects/{project.pk}/images/bulk/", body, format="json")
    assert response.status_code == 200, response.content
    export = Export.objects.get(pk=response.json()["result"]["export"])
    assert export.status == "done", export.error
    (task,) = json.loads(client.get(f"/api/v1/exports/{export.pk}/download/").getvalue())
    assert task["meta"]["image_id"] == images[1].pk
    loaded_by_label_studio(task)


def test_the_api_route_is_still_there_for_token_holders(project, lead, images):
    response = client_for(lead).get(
        f"/api/v1/projects/{project.pk}/export/", {"format": "label-studio", "image_urls": "api"}
    )
    (task, _) = json.loads(b"".join(response.streaming_content))
    path = f"/api/v1/projects/{project.pk}/images/{images[0].pk}/file/"
    assert task["data"]["image"] == f"http://testserver{path}"
    assert Client().get(path).status_code in (401, 403)


def test_the_zip_downloads_with_its_tasks_and_images(project, lead, images):
    response = client_for(lead).get(
        f"/api/v1/projects/{project.pk}/export/",
        {"format": "label-studio-zip", "annotators": "none"},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'-{project.pk}.label-studio.zip"')
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        folder = f"labeler-pets-{project.pk}"
        tasks = json.loads(archive.read(f"{folder}/tasks.json"))
        assert sorted(archive.namelist())[:2] == [
            f"{folder}/README.md",
            f"{folder}/images/img0.png",
        ]
    assert tasks[0]["data"]["image"] == f"/data/local-files/?d={folder}/images/img0.png"
    assert not any("completed_by" in a for task in tasks for a in task["annotations"])
