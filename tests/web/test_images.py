"""The upload page: only a project's leads and admins open it; its script posts to the API."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from labeler.images.models import Image
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db


def upload_url(project) -> str:
    return reverse("project-upload", args=[project.pk])


def test_anonymous_visitors_are_sent_to_log_in(client, project):
    response = client.get(upload_url(project))
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={upload_url(project)}"


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("annotator", 403)])
def test_non_managers_cannot_open_it(request, project, who, status):
    client = Client()
    client.force_login(request.getfixturevalue(who))
    assert client.get(upload_url(project)).status_code == status


@pytest.mark.parametrize("who", ["lead", "admin_user"])
def test_managers_get_the_drop_zone_wired_to_the_api(request, project, make_images, who):
    """The page names the API endpoint, the image count, a labelled multiple-file input."""
    make_images(project, 2)
    client = Client()
    client.force_login(request.getfixturevalue(who))
    response = client.get(upload_url(project))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Upload images · Pets · labeler</title>" in page
    assert f'data-upload-url="/api/v1/projects/{project.pk}/images/"' in page
    assert '<strong id="image-count" data-count="2">2 images</strong>' in page
    assert 'type="file" multiple' in page
    assert '<label for="file-input"' in page
    assert 'id="dropzone"' in page
    assert "js/upload.js" in page
    assert 'name="csrf-token"' in page


def test_the_page_only_answers_get(project, lead):
    client = Client()
    client.force_login(lead)
    assert client.post(upload_url(project)).status_code == 405


def test_the_page_s_csrf_token_lets_its_script_post_to_the_api(project, lead):
    """What upload.js does: a session-authenticated multipart POST with the meta tag's token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    page = client.get(upload_url(project)).content.decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token is not None
    api = f"/api/v1/projects/{project.pk}/images/"
    refused = client.post(api, {"files": SimpleUploadedFile("a.png", image_bytes())})
    assert refused.status_code == 403  # without the header, CSRF protection refuses
    accepted = client.post(
        api,
        {"files": SimpleUploadedFile("b.png", image_bytes())},
        headers={"X-CSRFToken": token.group(1)},
    )
    assert accepted.status_code == 201
    assert accepted.json()["created"] == 1
    assert Image.objects.filter(project=project).count() == 1
