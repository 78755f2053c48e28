"""Filtered listings within a time budget, and counted per user.

A filter that cannot use an index walks the whole project: every route that reads image
filters (found as tests/api/test_filter_rule.py finds them) answers a 503 saying to narrow
the filters once its query runs past LABELER_FILTER_BUDGET_MS, and writes nothing.
"""

from __future__ import annotations

import re
import time

import pytest
from django.core.cache import cache
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from labeler.browse.filters import FILTERS, ImageFilter
from labeler.bulk.actions import ACTIONS
from tests.api.test_filter_rule import (
    _page_routes,
    _query_routes,
    _selection_routes,
    stored,
)
from tests.conftest import client_for
from tests.factories import annotation_submit

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]
# Counting to fifty million, in SQL both databases run: seconds, whatever the images.
SLOW = (
    "(WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50000000) "
    "SELECT count(*) FROM n) < 0"
)


@pytest.fixture
def images(project, annotator, make_images):
    images = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    return images


def _slow(queryset, values, project):
    return queryset.alias(slow=RawSQL(SLOW, [], output_field=BooleanField())).filter(slow=True)


@pytest.fixture
def slow_filter(settings):
    """A filter no index helps, and a budget of a fifth of a second."""
    settings.LABELER_FILTER_BUDGET_MS = 200
    FILTERS["slow"] = ImageFilter("slow", "Slow", "text", _slow)
    yield
    del FILTERS["slow"]


def _too_slow(response, started):
    assert response.status_code == 503, (response.status_code, response.content[:300])
    assert time.monotonic() - started < 5  # stopped, not run to its end
    return response


@pytest.mark.parametrize(("path", "how"), _query_routes())
def test_a_listing_past_the_budget_is_a_503_on_every_api_route(
    project, lead, images, slow_filter, path, how
):
    url = path.replace("{project_pk}", str(project.pk))
    query = {"slow": "1"} if how == "query" else {"filter": "slow=1"}
    started = time.monotonic()
    body = _too_slow(client_for(lead).get(url, query), started).json()
    assert body["code"] == "filter_too_slow" and "narrows the images" in body["detail"]
    assert client_for(lead).get(url).status_code == 200  # the connection is fine after


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("path", _selection_routes())
def test_a_selection_past_the_budget_is_a_503_and_changes_nothing(
    project, lead, images, slow_filter, path, action
):
    url = path.replace("{project_pk}", str(project.pk))
    params = {"gold": {"gold": False}, "priority": {"priority": 1}, "reserve": {"annotators": []}}
    before = stored()
    body = {
        "action": action,
        "selection": {"filter": "slow=1"},
        "expected_count": 0,
        **params.get(action, {}),
    }
    started = time.monotonic()
    _too_slow(client_for(lead).post(url, body, format="json"), started)
    assert stored() == before


@pytest.mark.parametrize("path", _page_routes())
def test_a_page_past_the_budget_says_so(client, project, lead, images, slow_filter, path):
    client.force_login(lead)
    values = {"project_id": project.pk, "image_id": images[0].pk}
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
    started = time.monotonic()
    response = _too_slow(client.get(url, {"slow": "1"}), started)
    assert "narrows the images" in response.content.decode()


@pytest.mark.parametrize(("path", "how"), _query_routes())
def test_filtered_listings_are_counted_per_user(
    project, lead, reviewer, images, settings, path, how
):
    settings.LABELER_FILTER_THROTTLE_RATE = "3/min"
    cache.clear()
    url = path.replace("{project_pk}", str(project.pk))
    answers = [client_for(lead).get(url).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    if how == "query":  # a reviewer has a count of their own
        assert client_for(reviewer).get(url).status_code == 200
