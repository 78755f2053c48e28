"""GET /api/v1/projects/{id}/throughput/: leads and admins read each annotator's figures."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import annotation_submit

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/throughput/"


def test_a_lead_reads_rows_per_period(project, lead, annotator, make_images):
    (image,) = make_images(project, 1)
    annotation_submit(
        project=project, annotator=annotator, image_id=image.pk, labels=["cat"], time_spent_ms=9000
    )
    response = client_for(lead).get(url(project), {"period": "day"})
    assert response.status_code == 200, response.content
    (row,) = response.json()
    assert row["username"] == "ann1" and row["labels"] == 1
    assert row["active_seconds"] == 9.0 and row["labels_per_hour"] == 400.0
    assert row["consensus_rate"] is None and row["gold_accuracy"] is None


@pytest.mark.parametrize(
    "query, field",
    [({"period": "year"}, "period"), ({"since": "yesterday"}, "since"), ({"until": ""}, "until")],
)
def test_bad_queries_name_their_parameter(project, lead, query, field):
    response = client_for(lead).get(url(project), query)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_annotators_and_outsiders_are_refused(project, annotator, outsider):
    assert client_for(annotator).get(url(project)).status_code == 403
    assert client_for(outsider).get(url(project)).status_code == 404
