"""The import page: a zip of images and its labels, answered with each file's fate."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.factories import image_bytes
from tests.labeler.imports.test_archive import zipped

pytestmark = pytest.mark.django_db


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_report_lists_every_file_with_its_labels(lead, project):
    data = zipped({"cat/a.png": image_bytes(), "dog/b.png": b"junk"}).getvalue()
    response = client_as(lead).post(
        reverse("project-import", args=[project.pk]),
        {
            "archive": SimpleUploadedFile("set.zip", data),
            "labels_format": "imagefolder",
            "labels_as": "final",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 created, 0 duplicates, 1 rejected; labels: 1 applied, 1 refused" in html
    assert 'data-status="created" data-labels="applied"' in html
    assert "The file was not stored." in html


def test_missing_labels_are_shown_beside_the_form(lead, project):
    data = zipped({"a.png": image_bytes()}).getvalue()
    response = client_as(lead).post(
        reverse("project-import", args=[project.pk]),
        {
            "archive": SimpleUploadedFile("set.zip", data),
            "labels_format": "coco",
            "labels_as": "final",
        },
    )
    assert response.status_code == 400
    assert "The archive holds no .json files" in response.content.decode()
    assert not project.images.exists()


def test_only_leads_open_it(annotator, lead, project):
    url = reverse("project-import", args=[project.pk])
    assert client_as(annotator).get(url).status_code == 403
    assert client_as(lead).get(url).status_code == 200
    detail = client_as(lead).get(reverse("project-detail", args=[project.pk])).content.decode()
    assert f'href="{url}"' in detail
