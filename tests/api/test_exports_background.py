"""Background exports: /projects/{id}/exports/ and /exports/{id}/ start, follow, download."""

from __future__ import annotations

import io
import zipfile

import pytest

from labeler.exports.models import Export, ExportStatus
from tests.conftest import client_for
from tests.labeler.exports.data import labelled_images
from tests.rows import row_counts


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/exports/"


@pytest.fixture
def images(project, make_images):
    images = make_images(project, 4)
    labelled_images(project, images, ["cat", "dog"])
    return images


def test_a_lead_starts_follows_and_downloads_an_export(
    project, lead, url, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"format": "imagefolder", "split": [0.5, 0.5]}, format="json")
    assert response.status_code == 202
    started = response.json()
    assert (started["status"], started["total"], started["format"]) == ("queued", 4, "imagefolder")
    assert started["options"]["split"] == [0.5, 0.5]
    detail = client.get(f"/api/v1/exports/{started['id']}/").json()
    assert (detail["status"], detail["done"], detail["progress"]) == ("done", 4, 1.0)
    assert detail["download_url"] == f"http://testserver/api/v1/exports/{started['id']}/download/"
    download = client.get(detail["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="pets-{project.pk}-{started["id"]}.imagefolder.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    images_in = [name for name in archive.namelist() if name.endswith(".png")]
    assert len(images_in) == 4 and int(detail["size_bytes"]) > 0


def test_the_list_is_newest_first_and_paginated(
    project, lead, url, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        ids = [
            client.post(url, {"format": "csv", "seed": seed}, format="json").json()["id"]
            for seed in range(3)
        ]
    body = client.get(url, {"page_size": 2}).json()
    assert [item["id"] for item in body["results"]] == ids[::-1][:2]
    assert client.get(body["next"]).json()["results"][0]["id"] == ids[0]


def test_a_queued_export_cannot_be_downloaded_yet(project, lead, url):
    """Without its commit the task never ran: the export stays queued and download says so."""
    client = client_for(lead)
    export_id = client.post(url, {"format": "json"}, format="json").json()["id"]
    response = client.get(f"/api/v1/exports/{export_id}/download/")
    assert response.status_code == 409
    assert "is queued" in response.json()["detail"]
    detail = client.get(f"/api/v1/exports/{export_id}/").json()
    assert detail["download_url"] is None and detail["progress"] == 0.0


def test_a_failed_export_answers_409_with_its_error(project, lead):
    export = Export.objects.create(
        project=project, format="json", status=ExportStatus.FAILED, error="OSError: disk full"
    )
    response = client_for(lead).get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 409
    assert "disk full" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"format": "hf-imagefolder", "annotations": "all"}, "annotations"),
        ({"split": [0.5, 0.6]}, "split"),
        ({"min_agreement": "most"}, "min_agreement"),
        ({"reviewed_only": "sometimes"}, "reviewed_only"),
        ({"until": "2026-13-01"}, "until"),
        ({"label": "horse"}, "label"),
        ({"annotator": "nobody"}, "annotator"),
        ({"format": "hf-imagefolder", "convert_images": "no thanks"}, "convert_images"),
        ({"format": "csv", "convert_images": False}, "convert_images"),
    ],
)
def test_a_bad_option_is_refused_and_nothing_stored(project, lead, url, body, field):
    before = (row_counts(), Export.objects.count())
    response = client_for(lead).post(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: [response.json()["detail"]]}
    assert (row_counts(), Export.objects.count()) == before


def test_a_multi_label_separator_in_a_label_name_refuses_hf_imagefolder(project, lead, url):
    project.multi_label = True
    project.save()
    project.labels.filter(name="cat").update(name="cat;kitten")
    response = client_for(lead).post(url, {"format": "hf-imagefolder"}, format="json")
    assert response.status_code == 400 and "format" in response.json()["errors"]


@pytest.mark.parametrize(("who", "status"), [("annotator", 403), ("outsider", 404)])
def test_only_leads_and_admins_reach_exports(project, lead, url, request, who, status):
    export = Export.objects.create(project=project, format="json", created_by=lead)
    client = client_for(request.getfixturevalue(who))
    assert client.post(url, {"format": "json"}, format="json").status_code == status
    assert client.get(url).status_code == status
    for path in (f"/api/v1/exports/{export.pk}/", f"/api/v1/exports/{export.pk}/download/"):
        assert client.get(path).status_code == status
    assert client.delete(f"/api/v1/exports/{export.pk}/").status_code == status
    assert Export.objects.filter(pk=export.pk).exists()


def test_a_lead_deletes_an_export(project, lead, django_capture_on_commit_callbacks):
    export = Export.objects.create(project=project, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).delete(f"/api/v1/exports/{export.pk}/")
    assert response.status_code == 204 and not Export.objects.exists()
    assert client_for(lead).get(f"/api/v1/exports/{export.pk}/").status_code == 404


def test_an_earlier_exports_options_sent_back_start_the_same_export(
    project, lead, url, images, django_capture_on_commit_callbacks
):
    # Found by the schema fuzz: {"since": null} was accepted but documented as text only.
    # Null means "not set", as the stored options show every option left out.
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"format": "csv", "since": None}, format="json")
        assert first.status_code == 202, first.json()
        options = first.json()["options"]
        assert options["since"] is None and options["until"] is None
        again = client.post(url, options, format="json")
    # The very same options: the same export, handed back (nothing changed meanwhile).
    assert again.status_code == 200, again.json()
    assert again.json()["options"] == options
    assert (again.json()["id"], again.json()["reused"]) == (first.json()["id"], True)
