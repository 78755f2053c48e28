"""A project's near-duplicate distance over REST and on the settings page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from labeler import flows
from labeler.images.models import Image
from labeler.images.pixels.perceptual import ImageHashes
from tests.conftest import client_for
from tests.factories import image_bytes
from tests.rows import row_counts
from tests.web.test_projects import edit_post

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/"


def test_null_by_default_and_set_over_rest(project, lead, settings):
    """A project starts on the server's distance (null), sets its own, and goes back."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    client = client_for(lead)
    assert client.get(url(project)).json()["duplicate_distance"] is None
    duplicates = f"/api/v1/projects/{project.pk}/duplicates/"
    assert client.get(duplicates).json()["max_distance"] == 7
    response = client.patch(url(project), {"duplicate_distance": 3}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["duplicate_distance"] == 3
    assert client.get(duplicates).json()["max_distance"] == 3
    response = client.patch(url(project), {"duplicate_distance": None}, format="json")
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert project.duplicate_distance is None
    assert client.get(duplicates).json()["max_distance"] == 7


def test_a_new_project_may_set_it(lead):
    lead.is_staff = True
    lead.save()
    body = {"name": "Digits", "labels": ["0", "1"], "duplicate_distance": 3}
    response = client_for(lead).post("/api/v1/projects/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["duplicate_distance"] == 3


@pytest.mark.parametrize("value", [12, -2, "three", 2.5, True, [3], {"bits": 3}])
def test_bad_values_are_a_400_naming_the_field_and_nothing_is_saved(project, lead, value):
    project.duplicate_distance = 5
    project.save()
    before = row_counts()
    response = client_for(lead).patch(url(project), {"duplicate_distance": value}, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"duplicate_distance"}
    project.refresh_from_db()
    assert project.duplicate_distance == 5
    assert row_counts() == before


def test_a_change_over_rest_regroups_the_projects_images(
    project, lead, settings, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    """Two images 5 bits apart are one group at the server's 7 bits; a PATCH to 3 bits
    splits them as soon as the regrouping has run."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    hashes = iter([0, 0b11111])
    monkeypatch.setattr(
        "labeler.images.pixels.files.image_hashes", lambda _pixels: ImageHashes(next(hashes))
    )
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project, files=[SimpleUploadedFile(f"{n}.png", image_bytes()) for n in (1, 2)]
        )
    ids = [r.image_id for r in results]
    stored = Image.objects.filter(pk__in=ids).values_list("duplicate_group", flat=True)
    assert set(stored) == {min(ids)}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).patch(url(project), {"duplicate_distance": 3}, format="json")
    assert response.status_code == 200, response.content
    assert set(stored.all()) == {None}


def test_the_settings_form_sets_and_clears_it(project, lead):
    client = Client()
    client.force_login(lead)
    page_url = reverse("project-edit", args=[project.pk])
    assert 'name="duplicate_distance"' in client.get(page_url).content.decode()
    response = client.post(page_url, edit_post(project, duplicate_distance="3"))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.duplicate_distance == 3
    # A post without the input (another client's) keeps it; an empty input clears it.
    assert client.post(page_url, edit_post(project)).status_code == 302
    project.refresh_from_db()
    assert project.duplicate_distance == 3
    assert client.post(page_url, edit_post(project, duplicate_distance="")).status_code == 302
    project.refresh_from_db()
    assert project.duplicate_distance is None


@pytest.mark.parametrize("value", ["12", "-2", "three"])
def test_the_settings_form_shows_a_bad_distance_beside_its_input(project, lead, value):
    project.duplicate_distance = 4
    project.save()
    client = Client()
    client.force_login(lead)
    page_url = reverse("project-edit", args=[project.pk])
    refused = client.post(page_url, edit_post(project, duplicate_distance=value))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'id="duplicate-distance-error"' in page
    assert "The near-duplicate distance is a whole number of bits from 0 to 11" in page
    project.refresh_from_db()
    assert project.duplicate_distance == 4


def test_the_400_says_what_the_field_takes(project, lead):
    response = client_for(lead).patch(url(project), {"duplicate_distance": 40}, format="json")
    assert response.status_code == 400
    message = " ".join(response.json()["errors"]["duplicate_distance"])
    assert "from 0 to 11, -1 (no grouping in this project) or null" in message
