"""POST /api/v1/projects/{id}/imports/archive/: a labelled dataset as one zip."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.annotations.models import FinalLabel
from tests.factories import image_bytes
from tests.labeler.imports.test_archive import zipped

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/imports/archive/"


def archive(files) -> SimpleUploadedFile:
    return SimpleUploadedFile("data.zip", zipped(files).getvalue(), "application/zip")


def test_a_lead_imports_an_imagefolder_zip(api_as, lead, project):
    files = {"cat/a.png": image_bytes(), "dog/b.png": image_bytes(), "dog/c.png": b"junk"}
    response = api_as(lead).post(
        url(project),
        {"archive": archive(files), "labels_format": "imagefolder"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["rejected"], body["labels_applied"]) == (2, 1, 2)
    assert [r["name"] for r in body["results"]] == ["cat/a.png", "dog/b.png", "dog/c.png"]
    assert FinalLabel.objects.count() == 2


def test_a_csv_beside_the_zip(api_as, lead, project):
    sent = SimpleUploadedFile("labels.csv", b"file,label\na.png,bird\n")
    response = api_as(lead).post(
        url(project),
        {"archive": archive({"a.png": image_bytes()}), "labels_format": "csv", "labels_file": sent},
        format="multipart",
    )
    assert response.json()["results"][0]["label_names"] == ["bird"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"labels_format": "csv"}, "archive"),
        ({"labels_format": "xml", "archive": True}, "labels_format"),
        ({"labels_format": "csv", "archive": True}, "labels_file"),
    ],
)
def test_bad_requests_name_their_field(api_as, lead, project, fields, field):
    if fields.get("archive"):
        fields["archive"] = archive({"a.png": image_bytes()})
    response = api_as(lead).post(url(project), fields, format="multipart")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert not project.images.exists()


def test_annotators_cannot_import(api_as, annotator, project):
    response = api_as(annotator).post(
        url(project),
        {"archive": archive({"a.png": image_bytes()}), "labels_format": "none"},
        format="multipart",
    )
    assert response.status_code == 403
