"""The prediction API's page through the Django test client: who may open it, where it is
linked from, and what it carries for its script. What the script draws is tested in
Chromium (tests/browser/test_prediction_api.py)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from labeler.projects.models import Role
from labeler.web.serving_pages import ID_SLOT
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def project(lead):
    project = ProjectFactory(name="Colours", labels=["red", "green"])
    add_member(project, lead, Role.LEAD)
    return project


def test_leads_open_it_others_are_refused(project, lead):
    url = reverse("prediction-api", args=[project.pk])
    reviewer, annotator, outsider = (UserFactory(username=n) for n in ("rev", "ann", "out"))
    add_member(project, reviewer, Role.REVIEWER)
    add_member(project, annotator)
    assert client_as(lead).get(url).status_code == 200
    assert client_as(reviewer).get(url).status_code == 403
    assert client_as(annotator).get(url).status_code == 403
    assert client_as(outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_the_page_carries_the_labels_versions_and_the_api_routes(project, lead):
    ModelVersionFactory(project=project, version=1, is_current=False)
    ModelVersionFactory(project=project, version=2, is_current=True)
    html = client_as(lead).get(reverse("prediction-api", args=[project.pk])).content.decode()
    found = re.search(r'<script id="serving-data" type="application/json">(.*?)</script>', html)
    assert found is not None
    data = json.loads(found.group(1))
    assert [label["name"] for label in data["labels"]] == ["red", "green"]
    assert data["urls"]["tokens"] == f"/api/v1/projects/{project.pk}/predict-tokens/"
    assert data["urls"]["token"] == f"/api/v1/projects/{project.pk}/predict-tokens/{ID_SLOT}/"
    assert data["urls"]["served"] == f"/api/v1/projects/{project.pk}/served-predictions/"
    assert '<option value="2">v2 (current)</option>' in html
    assert f"http://testserver/api/v1/projects/{project.pk}/predict/" in html


def test_the_models_page_and_the_settings_link_to_it_for_leads(project, lead):
    link = reverse("prediction-api", args=[project.pk])
    for page in ("models", "project-edit"):
        assert (
            f'href="{link}"'
            in client_as(lead).get(reverse(page, args=[project.pk])).content.decode()
        )
    reviewer = UserFactory(username="rev")
    add_member(project, reviewer, Role.REVIEWER)
    models = client_as(reviewer).get(reverse("models", args=[project.pk])).content.decode()
    assert f'href="{link}"' not in models
