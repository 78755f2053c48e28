"""A project's quality settings: consensus method, review threshold and gold rate."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


def test_defaults_and_changes(project, lead):
    """New projects use majority vote, 0.7 and 5 %; a lead changes them."""
    url = f"/api/v1/projects/{project.pk}/"
    body = client_for(lead).get(url).json()
    assert (body["consensus_method"], body["review_threshold"], body["gold_rate"]) == (
        "majority",
        0.7,
        0.05,
    )
    changes = {"consensus_method": "dawid_skene", "review_threshold": 0.9, "gold_rate": 0.1}
    response = client_for(lead).patch(url, changes, format="json")
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert (project.consensus_method, project.review_threshold, project.gold_rate) == (
        "dawid_skene",
        0.9,
        0.1,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"consensus_method": "mean"},
        {"review_threshold": 1.5},
        {"review_threshold": "high"},
        {"gold_rate": -0.1},
    ],
)
def test_bad_settings_are_refused(project, lead, changes):
    """Each bad value: 400 naming the field, nothing changed."""
    before = row_counts()
    response = client_for(lead).patch(f"/api/v1/projects/{project.pk}/", changes, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(changes)
    project.refresh_from_db()
    assert project.consensus_method == "majority" and project.gold_rate == 0.05
    assert row_counts() == before
