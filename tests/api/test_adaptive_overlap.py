"""Adaptive overlap over REST: the settings, their validation, and the queue they drive."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


def test_defaults_and_changes(project, lead):
    """New projects have fixed overlap; a lead turns adaptive overlap on and bounds it."""
    url = f"/api/v1/projects/{project.pk}/"
    body = client_for(lead).get(url).json()
    assert (body["overlap_mode"], body["overlap_max"], body["adaptive_confidence"]) == (
        "fixed",
        5,
        0.95,
    )
    changes = {"overlap_mode": "adaptive", "overlap_max": 4, "adaptive_confidence": 0.9}
    response = client_for(lead).patch(url, changes, format="json")
    assert response.status_code == 200, response.content
    assert {key: response.json()[key] for key in changes} == changes
    project.refresh_from_db()
    assert (project.overlap_mode, project.overlap_max, project.adaptive_confidence) == (
        "adaptive",
        4,
        0.9,
    )


def test_a_project_created_with_adaptive_overlap(admin_user):
    response = client_for(admin_user).post(
        "/api/v1/projects/",
        {
            "name": "Digits",
            "labels": ["0", "1", "7"],
            "overlap": 2,
            "overlap_mode": "adaptive",
            "overlap_max": 3,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["overlap"], body["overlap_mode"], body["overlap_max"]) == (2, "adaptive", 3)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"overlap_mode": "sometimes"}, "overlap_mode"),
        ({"overlap_max": 0}, "overlap_max"),
        ({"overlap_max": 51}, "overlap_max"),
        ({"overlap_max": "many"}, "overlap_max"),
        ({"adaptive_confidence": 1.5}, "adaptive_confidence"),
        ({"adaptive_confidence": "sure"}, "adaptive_confidence"),
        # The maximum below the overlap (2), which every image gets first.
        ({"overlap_mode": "adaptive", "overlap_max": 1}, "overlap_max"),
        ({"overlap_mode": "adaptive", "overlap": 6}, "overlap_max"),
    ],
)
def test_bad_settings_are_refused(project, lead, changes, field):
    """Each bad value or contradiction: 400 naming the field, nothing changed."""
    before = row_counts()
    response = client_for(lead).patch(f"/api/v1/projects/{project.pk}/", changes, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    project.refresh_from_db()
    assert (project.overlap_mode, project.overlap_max, project.overlap) == ("fixed", 5, 2)
    assert row_counts() == before


def test_the_maximum_below_the_overlap_is_explained(project, lead):
    changes = {"overlap_mode": "adaptive", "overlap_max": 1}
    response = client_for(lead).patch(f"/api/v1/projects/{project.pk}/", changes, format="json")
    assert response.status_code == 400
    message = " ".join(response.json()["errors"]["overlap_max"])
    assert "may not be below the overlap (2)" in message


def test_an_annotator_may_not_change_them(project, annotator):
    response = client_for(annotator).patch(
        f"/api/v1/projects/{project.pk}/", {"overlap_mode": "adaptive"}, format="json"
    )
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.overlap_mode == "fixed"


def test_split_labels_ask_for_a_third_annotator_over_rest(
    project, lead, annotator, annotator2, make_images
):
    """Two annotators who disagree leave the image in the queue for a third."""
    url = f"/api/v1/projects/{project.pk}/"
    changes = {"overlap_mode": "adaptive", "overlap_max": 3}
    assert client_for(lead).patch(url, changes, format="json").status_code == 200
    [image] = make_images(project, 1)
    for user, label in ((annotator, "cat"), (annotator2, "dog")):
        client = client_for(user)
        handed = client.get(f"/api/v1/projects/{project.pk}/next/")
        assert handed.status_code == 200, handed.content
        assert handed.json()["image"]["id"] == image.pk
        submitted = client.post(
            f"/api/v1/projects/{project.pk}/annotations/",
            {"image": image.pk, "labels": [label]},
            format="json",
        )
        assert submitted.status_code == 201, submitted.content
    image.refresh_from_db()
    assert (image.annotation_count, image.extra_annotations, image.is_complete) == (2, 1, False)
    # Neither of the two is handed it again.
    assert client_for(annotator).get(f"/api/v1/projects/{project.pk}/next/").status_code == 204
