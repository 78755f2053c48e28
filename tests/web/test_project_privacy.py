"""The settings page's "Exports and privacy": stripping photos' metadata as they are added."""

from __future__ import annotations

import pytest

from tests.web.test_model_pages import client_as, settings_post, settings_url

pytestmark = pytest.mark.django_db

CHECKBOX = 'id="id_strip_metadata_on_ingest" aria-describedby="strip-metadata-help"'


def test_the_lead_turns_stripping_on_and_off_on_the_settings_page(project, lead):
    client = client_as(lead)
    assert f"{CHECKBOX}>" in client.get(settings_url(project)).content.decode()  # off

    response = client.post(
        settings_url(project), settings_post(project, strip_metadata_on_ingest="on")
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.strip_metadata_on_ingest is True
    assert f"{CHECKBOX} checked>" in client.get(settings_url(project)).content.decode()
    client.post(settings_url(project), settings_post(project))
    project.refresh_from_db()
    assert project.strip_metadata_on_ingest is False


def test_the_api_reads_and_writes_the_setting(project, lead, api_as):
    url = f"/api/v1/projects/{project.pk}/"
    assert api_as(lead).get(url).json()["strip_metadata_on_ingest"] is False

    response = api_as(lead).patch(url, {"strip_metadata_on_ingest": True}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["strip_metadata_on_ingest"] is True
    bad = api_as(lead).patch(url, {"strip_metadata_on_ingest": "maybe"}, format="json")
    assert bad.status_code == 400
    assert "strip_metadata_on_ingest" in bad.json()["errors"]
