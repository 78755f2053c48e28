"""Cached reports are computed afresh while the cache is down: the pages that read them
answer (the home page's lead summary reads the agreement report and the review queue)."""

from __future__ import annotations

import pytest
from django.test import Client

from labeler.agreement.review import review_candidates
from labeler.agreement.selectors import agreement_report
from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.test_login_throttle import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(settings):
    """The cache is a Redis nothing listens for: every call to it fails to connect."""
    settings.CACHES = {
        "default": {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_the_reports_are_computed_while_the_cache_is_down(cache_down, make_images):
    project = ProjectFactory(name="Outage")
    make_images(project, 3)
    assert agreement_report(project)["n_images"] == 0
    assert review_candidates(project) is not None


def test_a_lead_s_home_page_answers_while_the_cache_is_down(cache_down, make_images):
    lead = UserFactory(username="lead")
    project = ProjectFactory(name="Outage")
    add_member(project, lead, Role.LEAD)
    make_images(project, 3)
    client = Client()
    client.force_login(lead)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Outage" in response.content
