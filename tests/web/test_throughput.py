"""The time and throughput page and its CSV, for leads and admins."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import annotation_submit

pytestmark = pytest.mark.django_db


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def labelled(project, annotator, annotator2, make_images):
    image, other = make_images(project, 2)
    for user, ms in ((annotator, 20_000), (annotator2, 40_000)):
        annotation_submit(
            project=project, annotator=user, image_id=image.pk, labels=["cat"], time_spent_ms=ms
        )
    annotation_submit(project=project, annotator=annotator, image_id=other.pk, labels=["dog"])
    return project


def test_the_page_shows_each_annotator_with_n_beside_rates(labelled, lead):
    page = client_as(lead).get(reverse("project-throughput", args=[labelled.pk]), {"period": "day"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-username="ann1"' in html and 'data-username="ann2"' in html
    assert '100% <span class="n-small">n=1</span>' in html  # agrees with consensus, on 1
    assert "over 120 s on one image counted as idle" in html


def test_the_csv_holds_one_row_per_annotator_and_period(labelled, lead):
    response = client_as(lead).get(
        reverse("project-throughput", args=[labelled.pk]), {"period": "month", "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["username"], r["labels"], r["timed_labels"]) for r in rows] == [
        ("ann1", "2", "1"),
        ("ann2", "1", "1"),
    ]
    assert rows[0]["consensus_agreement"] == "1.0" and rows[0]["gold_accuracy"] == ""
    assert float(rows[1]["active_hours"]) == pytest.approx(40 / 3600, abs=0.001)


def test_a_bad_date_is_a_400_saying_so(labelled, lead):
    page = client_as(lead).get(reverse("project-throughput", args=[labelled.pk]), {"since": "x"})
    assert page.status_code == 400
    assert "since: &#x27;x&#x27; is not a date (ISO 8601: 2024-05-01)" in page.content.decode()


def test_only_leads_and_admins_see_it(labelled, annotator, admin_user):
    assert (
        client_as(annotator).get(reverse("project-throughput", args=[labelled.pk])).status_code
        == 403
    )
    assert (
        client_as(admin_user).get(reverse("project-throughput", args=[labelled.pk])).status_code
        == 200
    )


def test_the_dashboard_links_it_for_leads_only(labelled, lead, reviewer):
    url = reverse("agreement-dashboard", args=[labelled.pk])
    assert 'id="throughput-link"' in client_as(lead).get(url).content.decode()
    assert 'id="throughput-link"' not in client_as(reviewer).get(url).content.decode()
