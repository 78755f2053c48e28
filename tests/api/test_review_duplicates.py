"""A near-duplicate group sent to review: the review API lists the group's images with
their thumbnails and final labels now, beside the request."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeler import flows
from labeler.agreement.duplicate_labels import REASON, duplicate_reviews_request
from labeler.agreement.models import ReviewRequest
from labeler.agreement.review_requests import review_requests_add, review_requests_resolve
from labeler.images.duplicates.finding import phash_columns
from labeler.images.duplicates.groups import image_duplicates_link
from labeler.images.models import Image
from tests.labeler.exports.data import finalise
from tests.labeler.images.scenes import COPIES, encoded, scene

REVIEW = "/api/v1/projects/{}/review/"


@pytest.fixture
def copies(project, media_root, settings, django_capture_on_commit_callbacks):
    """One picture with two copies, and one picture alone, through the real ingest."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    picture = scene(1, (320, 240))
    files = {
        "p.png": encoded(picture),
        "p-small.jpg": encoded(COPIES["resized"](picture), "JPEG"),
        "p-dull.png": encoded(COPIES["recoloured"](picture)),
        "alone.png": encoded(scene(3, (320, 240))),
    }
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()]
        )
    return {r.name: Image.objects.get(pk=r.image_id or 0) for r in results}


def label_id(project, name):
    return project.labels.get(name=name).pk


@pytest.mark.django_db
def test_the_review_api_lists_the_groups_images_with_their_final_labels(
    project, lead, api_as, copies
):
    finalise(copies["p.png"], ["cat"])
    finalise(copies["p-small.jpg"], ["dog"])
    assert duplicate_reviews_request(project=project) == 2
    review_requests_add(project, [copies["alone.png"].pk], reason="requested")

    body = api_as(lead).get(REVIEW.format(project.pk), {"reason": "requested"}).json()
    by_image = {item["image"]["id"]: item for item in body["results"]}
    assert set(by_image) == {copies[n].pk for n in ("p.png", "p-small.jpg", "alone.png")}
    [filed] = by_image[copies["p.png"].pk]["requests"]
    assert filed["reason"] == REASON and filed["detail"]["group"] == copies["p.png"].pk
    shown = {image["original_name"]: image for image in filed["group_images"]}
    assert list(shown) == ["p.png", "p-small.jpg", "p-dull.png"]  # the group, by id
    assert shown["p.png"]["final_label_ids"] == [label_id(project, "cat")]
    assert shown["p-small.jpg"]["final_label_ids"] == [label_id(project, "dog")]
    assert shown["p-dull.png"]["final_label_ids"] is None  # not decided yet
    assert all(image["thumbnail_url"].startswith("http") for image in shown.values())
    # Another reason's request names no group.
    [other] = by_image[copies["alone.png"].pk]["requests"]
    assert other["group_images"] == []

    # The labels are today's, not the request's: a later final label shows.
    finalise(copies["p-dull.png"], ["cat"])
    one = api_as(lead).get(f"{REVIEW.format(project.pk)}{copies['p-small.jpg'].pk}/").json()
    [filed] = one["requests"]
    dull = next(i for i in filed["group_images"] if i["id"] == copies["p-dull.png"].pk)
    assert dull["final_label_ids"] == [label_id(project, "cat")]


@pytest.mark.django_db
def test_a_request_whose_detail_names_no_group_lists_no_images(project, lead, api_as, copies):
    """A detail of another shape (filed by hand, or an older request) is shown as it is."""
    review_requests_add(
        project,
        [copies["p.png"].pk],
        reason=REASON,
        detail_by_image={copies["p.png"].pk: {"group": "p.png", "labels": []}},
    )
    body = api_as(lead).get(REVIEW.format(project.pk)).json()
    [item] = [i for i in body["results"] if i["image"]["id"] == copies["p.png"].pk]
    assert item["requests"][0]["group_images"] == []


@pytest.mark.django_db
def test_the_groups_images_cost_the_same_queries_for_one_request_or_many(
    project, lead, api_as, copies
):
    finalise(copies["p.png"], ["cat"])
    finalise(copies["p-small.jpg"], ["dog"])
    duplicate_reviews_request(project=project)
    client = api_as(lead)
    client.get(REVIEW.format(project.pk))  # caches warm
    with CaptureQueriesContext(connection) as two:
        client.get(REVIEW.format(project.pk))
    review_requests_resolve(project, [copies["p-small.jpg"].pk])
    with CaptureQueriesContext(connection) as one:
        client.get(REVIEW.format(project.pk))
    assert len(two) <= len(one)


@pytest.mark.django_db
def test_a_request_follows_its_image_when_groups_merge(
    project, lead, api_as, make_images, media_root, settings
):
    """Two groups each sent to review, then merged by an image near both: every request
    lists the merged group (filed with group ids of which one no longer exists)."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    a, b, c, d, bridge = make_images(project, 5)
    for image, value in ((a, 0), (b, 0b1111), (c, 0b1111 << 20), (d, (0b1111 << 20) | 0xF0)):
        Image.objects.filter(pk=image.pk).update(**phash_columns(value))
    image_duplicates_link(image_id=b.pk)
    image_duplicates_link(image_id=d.pk)
    for image, name in ((a, "cat"), (b, "dog"), (c, "cat"), (d, "dog")):
        finalise(image, [name])
    assert duplicate_reviews_request(project=project) == 4
    filed_groups = set(ReviewRequest.objects.values_list("detail__group", flat=True))
    assert filed_groups == {a.pk, c.pk}

    Image.objects.filter(pk=bridge.pk).update(**phash_columns(0b11 << 20 | 0b11))
    assert image_duplicates_link(image_id=bridge.pk) == a.pk  # c's group is gone

    body = api_as(lead).get(REVIEW.format(project.pk), {"reason": "requested"}).json()
    by_image = {item["image"]["id"]: item for item in body["results"]}
    merged = [a.pk, b.pk, c.pk, d.pk, bridge.pk]
    for image in (a, b, c, d):
        [filed] = by_image[image.pk]["requests"]
        assert [shown["id"] for shown in filed["group_images"]] == merged, image.pk
