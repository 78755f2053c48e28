"""The lowest suggestion confidence that is pre-selected: REST, the settings form, the page."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import client_for
from tests.rows import row_counts
from tests.web.test_projects import edit_post

pytestmark = pytest.mark.django_db


def test_default_and_change_over_rest(project, lead):
    url = f"/api/v1/projects/{project.pk}/"
    assert client_for(lead).get(url).json()["suggestion_preselect"] == 0.6
    response = client_for(lead).patch(url, {"suggestion_preselect": 0.85}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["suggestion_preselect"] == 0.85
    project.refresh_from_db()
    assert project.suggestion_preselect == 0.85


def test_a_new_project_may_set_it(lead):
    body = {"name": "Birds", "labels": ["robin", "wren"], "suggestion_preselect": 0.5}
    lead.is_staff = True
    lead.save()
    response = client_for(lead).post("/api/v1/projects/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["suggestion_preselect"] == 0.5


@pytest.mark.parametrize("value", [1.5, -0.1, "high", None])
def test_bad_values_are_a_400_naming_the_field(project, lead, value):
    before = row_counts()
    response = client_for(lead).patch(
        f"/api/v1/projects/{project.pk}/", {"suggestion_preselect": value}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"suggestion_preselect"}
    project.refresh_from_db()
    assert project.suggestion_preselect == 0.6
    assert row_counts() == before


def test_the_settings_form_takes_a_percentage(project, lead):
    client = Client()
    client.force_login(lead)
    url = reverse("project-edit", args=[project.pk])
    assert 'name="preselect_percent"' in client.get(url).content.decode()
    response = client.post(url, edit_post(project, preselect_percent="75"))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.suggestion_preselect == 0.75
    refused = client.post(url, edit_post(project, preselect_percent="150"))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'id="preselect-error"' in page
    assert "The lowest pre-selected suggestion confidence is a percentage from 0 to 100" in page
    project.refresh_from_db()
    assert project.suggestion_preselect == 0.75


def test_the_labelling_page_hands_it_to_its_script(project, annotator):
    project.suggestion_preselect = 0.8
    project.save()
    client = Client()
    client.force_login(annotator)
    page = client.get(reverse("label", args=[project.pk])).content.decode()
    raw = re.search(r'id="workspace-data"[^>]*>(.*?)</script>', page, re.S).group(1)
    assert json.loads(raw)["project"]["suggestion_preselect"] == 0.8
