"""Explicit review requests: filed idempotently, first in the queue, resolved by a decision."""

from __future__ import annotations

import pytest

from labeler.agreement.models import ReviewRequest
from labeler.agreement.review import review_queue
from labeler.agreement.review_requests import open_review_image_ids, review_requests_add
from labeler.agreement.services import image_decide
from labeler.annotations.submit import annotation_record
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.predictions.review import review_item, review_items
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def tied(project, annotator, annotator2, make_images):
    """Overlap 2: the first image is a tie (a computed candidate), three are unrated."""
    project.overlap = 2
    project.save()
    images = make_images(project, 4)
    for user, label in ((annotator, "cat"), (annotator2, "dog")):
        annotation_record(project=project, annotator=user, image_id=images[0].pk, labels=[label])
    return images


def test_requests_are_added_once_per_open_reason(project, lead, tied):
    ids = [image.pk for image in tied]
    assert review_requests_add(project, ids[1:3], reason="requested", requested_by=lead) == 2
    assert review_requests_add(project, ids[1:4], reason="requested") == 1  # idempotent
    assert (
        review_requests_add(
            project, [ids[1]], reason="model_disagrees", detail_by_image={ids[1]: {"p": 0.9}}
        )
        == 1
    )
    assert ReviewRequest.objects.count() == 4
    assert sorted(open_review_image_ids(project)) == ids[1:4]
    assert ReviewRequest.objects.get(reason="model_disagrees").detail == {"p": 0.9}
    assert review_requests_add(project, [], reason="requested") == 0


def test_bad_input_adds_nothing(project, tied, make_images):
    other = ProjectFactory()
    (foreign,) = make_images(other, 1)
    ids = [tied[1].pk, foreign.pk]
    with pytest.raises(ValidationFailed, match="not images of this project"):
        review_requests_add(project, ids, reason="requested")
    with pytest.raises(ValidationFailed, match="reason"):
        review_requests_add(project, [tied[1].pk], reason="")
    with pytest.raises(ValidationFailed, match="whole numbers"):
        review_requests_add(project, ["7"], reason="requested")  # type: ignore[list-item]
    assert not ReviewRequest.objects.exists()


def test_requested_images_come_first_and_are_counted_once(project, lead, tied):
    """Requested images lead the queue, oldest request first (then by id); counted once."""
    tie, second, third, _ = tied
    review_requests_add(
        project, [third.pk], reason="model_disagrees", detail_by_image={third.pk: {"p": 0.8}}
    )
    review_requests_add(project, [second.pk, tie.pk], reason="requested", requested_by=lead)
    queue = review_queue(project)
    assert [(e.image_id, e.reason) for e in queue] == [
        (third.pk, "requested"),
        (tie.pk, "requested"),
        (second.pk, "requested"),
    ]
    assert queue.counts == {"requested": 3, "tie": 0, "low_confidence": 0, "disagreement": 0}
    assert queue[1].consensus is not None and queue[1].consensus.label_ids == []  # still a tie
    assert [e.image_id for e in review_queue(project, reason="requested")] == [
        third.pk,
        tie.pk,
        second.pk,
    ]
    assert list(review_queue(project, reason="tie")) == []
    items = review_items(project, queue[0:3])
    assert [(r.reason, r.detail) for r in items[0].requests] == [("model_disagrees", {"p": 0.8})]
    assert items[2].requests[0].requested_by == lead
    assert review_item(project, second.pk).reason == "requested"


def test_a_decision_resolves_the_image_requests(project, lead, tied):
    tie, second, *_ = tied
    review_requests_add(project, [second.pk], reason="requested")
    review_requests_add(project, [second.pk], reason="model_disagrees")
    image_decide(
        project=project, image_id=second.pk, labels=["cat"], decided_by=lead, method="adjudicated"
    )
    assert list(open_review_image_ids(project)) == []
    assert ReviewRequest.objects.filter(resolved_at__isnull=False).count() == 2
    assert [e.image_id for e in review_queue(project)] == [tie.pk]
    # A decided image sent again is in the queue again, until the next decision.
    assert review_requests_add(project, [second.pk], reason="requested") == 1
    assert [e.image_id for e in review_queue(project)] == [second.pk, tie.pk]
    assert review_item(project, second.pk).reason == "requested"


def test_deleting_an_image_deletes_its_requests(project, tied):
    review_requests_add(project, [tied[1].pk], reason="requested")
    Image.objects.filter(pk=tied[1].pk).delete()
    assert not ReviewRequest.objects.exists()


def test_a_hundred_thousand_ids_take_a_few_queries(project, tied, django_assert_max_num_queries):
    """Ids are checked and filed in batches: no query per image."""
    ids = [image.pk for image in tied] * 25_000
    with django_assert_max_num_queries(12):
        assert review_requests_add(project, ids, reason="requested") == 4


def test_requested_by_any_user(project, tied):
    someone = UserFactory()
    add_member(project, someone)
    assert review_requests_add(project, [tied[2].pk], reason="requested", requested_by=someone) == 1
