"""The Images page's status chips (skipped and in review beside the progress, as the status
filter reads them, for a whole page in a fixed number of queries) and what an image's page
adds to its history: review requests opened and resolved, the priority, the reservations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeler.agreement.review_requests import REQUESTED, review_requests_add
from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabelMethod, ImageReservation, Skip
from labeler.browse.filters import images_filtered
from labeler.images.models import Image

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def browse(user, project, query: str = ""):
    return client_of(user).get(reverse("images-browse", args=[project.pk]) + query)


def statuses(response) -> dict[int, list[str]]:
    return {row["image"].pk: row["statuses"] for row in response.context["rows"]}


def test_chips_show_skipped_and_in_review_as_the_status_filter_reads_them(
    project, lead, annotator, make_images
):
    images = make_images(project, 4)
    Skip.objects.create(project=project, image=images[1], annotator=annotator)
    review_requests_add(project, [images[2].pk], reason=REQUESTED, requested_by=lead)
    image_decide(
        project=project, image_id=images[3].pk, labels=["dog"], decided_by=lead,
        method=FinalLabelMethod.GOLD,
    )  # fmt: skip
    response = browse(lead, project)
    assert response.status_code == 200
    assert statuses(response) == {
        images[0].pk: ["not started"],
        images[1].pk: ["not started", "skipped"],
        images[2].pk: ["not started", "in review"],
        images[3].pk: ["gold"],
    }
    for value, chip in (("skipped", "skipped"), ("in_review", "in review")):
        matched = images_filtered(project, {"status": [value]}, user=lead)
        shown = {pk for pk, chips in statuses(response).items() if chip in chips}
        assert shown == set(matched.values_list("pk", flat=True))
    assert b'class="status-chip status-in-review"' in response.content


def test_the_chips_cost_the_same_queries_for_a_bigger_page(project, lead, annotator, make_images):
    make_images(project, 3)
    browse(lead, project)  # the caches warm up (the review candidates, the labels...)
    with CaptureQueriesContext(connection) as few:
        browse(lead, project)
    more = make_images(project, 12)
    for image in more:
        Skip.objects.create(project=project, image=image, annotator=annotator)
    review_requests_add(project, [image.pk for image in more], reason=REQUESTED)
    browse(lead, project)
    with CaptureQueriesContext(connection) as many:
        response = browse(lead, project)
    assert len(response.context["rows"]) == 15
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_image_page_shows_review_requests_priority_and_reservations(
    project, lead, annotator, make_images
):
    image = make_images(project, 1)[0]
    review_requests_add(
        project, [image.pk], reason=REQUESTED, requested_by=lead,
        detail_by_image={image.pk: {"note": "blurry?"}},
    )  # fmt: skip
    image_decide(
        project=project, image_id=image.pk, labels=["cat"], decided_by=lead,
        method=FinalLabelMethod.ADJUDICATED,
    )  # fmt: skip
    Image.objects.filter(pk=image.pk).update(priority=7)
    ImageReservation.objects.create(project=project, image=image, annotator=annotator)
    response = client_of(lead).get(reverse("image-page", args=[project.pk, image.pk]))
    assert response.status_code == 200
    kinds = [event["kind"] for event in response.context["history"]]
    assert kinds[0] == "review" and "resolved" in kinds and "change" in kinds
    [review] = response.context["reviews"]
    assert (review.reason, review.note, review.requested_by) == (REQUESTED, "blurry?", "lead")
    assert review.resolved_at is not None
    assert response.context["reserved_for"] == ["ann1"]
    page = response.content.decode()
    assert "Sent to review (requested) by lead: “blurry?”" in page
    assert "Review request resolved (requested)" in page
    assert "Queue priority 7 · reserved for ann1" in page
