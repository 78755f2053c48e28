"""The review page's data for its grid view: the page size and where decisions go."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labeler.projects.models import Role
from tests.factories import UserFactory, add_member
from tests.web.test_empty_states import client_as, script_data

pytestmark = pytest.mark.django_db


def test_the_review_page_tells_its_grid_the_page_size_and_the_batch_address(project, lead):
    """A page of the grid is the project's grid size; a page's decisions go to
    decisions/batch/, a lead's undo to each decision's address; the grid is in the page."""
    project.grid_size = 36
    project.save(update_fields=["grid_size"])
    reviewer = UserFactory(username="rita")
    add_member(project, reviewer, Role.REVIEWER)
    for user, can_gold in ((lead, True), (reviewer, False)):
        response = client_as(user).get(reverse("review", args=[project.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        data = script_data(html, "review-data")
        assert data["project"]["grid_size"] == 36
        assert data["can_gold"] is can_gold
        base = f"/api/v1/projects/{project.pk}"
        assert data["urls"]["decisions_batch"].endswith(f"{base}/decisions/batch/")
        assert data["urls"]["decision"].endswith(f"{base}/decisions/{data['slot']}/")
        for element in ('id="view-toggle"', 'id="grid-view"', 'id="grid-full"'):
            assert element in html


def test_annotators_get_403(project, annotator):
    """The page shows every annotator's labels: annotators may not open it."""
    response = client_as(annotator).get(f"/projects/{project.pk}/review/")
    assert response.status_code == 403
