"""Explicit review requests over REST: listed first with their reason and detail, resolved."""

from __future__ import annotations

import pytest

from labeler.agreement.review_requests import review_requests_add
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_queue_lists_requests_with_reason_and_detail(project, lead, reviewer, make_images):
    first, second = make_images(project, 2)
    review_requests_add(project, [first.pk], reason="requested", requested_by=lead)
    review_requests_add(
        project, [second.pk], reason="model_disagrees", detail_by_image={second.pk: {"p": 0.91}}
    )
    base = f"/api/v1/projects/{project.pk}"
    body = client_for(reviewer).get(f"{base}/review/?reason=requested").json()
    assert body["count"] == 2 and body["reasons"]["requested"] == 2
    first_item, second_item = body["results"]
    assert first_item["reason"] == "requested"
    assert [(r["reason"], r["requested_by"], r["detail"]) for r in first_item["requests"]] == [
        ("requested", "lead", {})
    ]
    assert [(r["reason"], r["requested_by"], r["detail"]) for r in second_item["requests"]] == [
        ("model_disagrees", None, {"p": 0.91})
    ]
    detail = client_for(reviewer).get(f"{base}/review/{second.pk}/").json()
    assert detail["reason"] == "requested" and detail["requests"][0]["detail"] == {"p": 0.91}

    decided = client_for(reviewer).post(
        f"{base}/decisions/", {"image": first.pk, "labels": ["cat"]}, format="json"
    )
    assert decided.status_code == 201, decided.content
    body = client_for(reviewer).get(f"{base}/review/").json()
    assert [item["image"]["id"] for item in body["results"]] == [second.pk]
    assert body["reasons"]["requested"] == 1
