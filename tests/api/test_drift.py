"""POST /api/v1/projects/{id}/drift/checks/ (leads) and GET (reviewers and leads)."""

from __future__ import annotations

import pytest

from labeler.monitoring.models import DriftCheck
from tests.conftest import client_for
from tests.labeler.monitoring.drifted import serve, with_reference

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/drift/checks/"


@pytest.fixture
def served(project):
    project.drift_minimum_count = 40
    project.save()
    version = with_reference(project)
    serve(project, version, 60)
    return project


def test_a_lead_runs_a_check_and_reads_it_back(served, lead):
    response = client_for(lead).post(url(served))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["alarm"] is False and body["n_recent"] == 60 and body["n_reference"] == 90
    assert set(body["tests"]) == {"embeddings", "confidence", "labels"}
    listed = client_for(lead).get(url(served)).json()
    assert listed["false_alarm_rate"] == 0.01 and [c["id"] for c in listed["results"]] == [
        body["id"]
    ]


def test_reviewers_read_and_only_leads_run(served, reviewer, annotator, outsider):
    assert client_for(reviewer).get(url(served)).status_code == 200
    assert client_for(reviewer).post(url(served)).status_code == 403
    assert client_for(annotator).get(url(served)).status_code == 403
    assert client_for(outsider).get(url(served)).status_code == 404
    assert client_for(outsider).post(url(served)).status_code == 404
    assert not DriftCheck.objects.exists()


def test_nothing_to_check_is_a_409_that_says_why(project, lead):
    response = client_for(lead).post(url(project))
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The project has no promoted model version to check for drift."
    )
