"""Counting a filter selection before acting: what "everything the filter matches" holds."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import annotation_submit

pytestmark = pytest.mark.django_db


def count(user, project, query: str | None):
    params = {} if query is None else {"filter": query}
    return client_for(user).get(f"/api/v1/projects/{project.pk}/images/bulk/", params)


def test_the_count_is_what_the_filter_matches(project, lead, annotator, make_images):
    images = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    assert count(lead, project, None).json() == {"count": 3}
    assert count(lead, project, "status=not_started&sort=-id").json() == {"count": 2}
    assert count(lead, project, "?status=in_progress").json() == {"count": 1}


def test_a_bad_filter_is_a_400_and_only_leads_count(project, lead, annotator, outsider):
    bad = count(lead, project, "status=purple")
    assert bad.status_code == 400 and "status" in bad.json()["detail"]
    assert count(lead, project, "labels_min=lots").status_code == 400
    assert count(annotator, project, "").status_code == 403
    assert count(outsider, project, "").status_code == 404
