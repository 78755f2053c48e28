"""The queue through /api/v1/projects/{id}/next/, one request at a time.

Concurrent callers on PostgreSQL are tested elsewhere; here: overlap, held leases,
``exclude``, expiry and priority.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from labeler.annotations.models import Assignment
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import UserFactory, add_member, annotation_submit
from tests.rows import row_counts

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


def next_image(project: Project, user, exclude: str | None = None) -> int | None:
    """The id of the image the queue hands the user, or None on 204."""
    url = f"/api/v1/projects/{project.pk}/next/"
    response = client_for(user).get(url, {"exclude": exclude} if exclude is not None else {})
    if response.status_code == 204:
        assert response.content == b""
        return None
    assert response.status_code == 200, response.content
    return response.json()["image"]["id"]


def label(project: Project, user, image_id: int) -> None:
    annotation_submit(project=project, annotator=user, image_id=image_id, labels=["cat"])


def expire_leases() -> None:
    Assignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))


def test_the_response_carries_the_image_and_the_lease_end(
    project, annotator, make_images, settings
):
    """200 with the image (and its file URL) and when the lease runs out."""
    settings.LABELER_LEASE_SECONDS = 90
    (image,) = make_images(project, 1)
    before = timezone.now()
    client = client_for(annotator)
    response = client.get(f"/api/v1/projects/{project.pk}/next/")
    assert response.status_code == 200
    body = response.json()
    assert body["image"]["id"] == image.pk
    # The file's address names the image by id (annotators label blind, so no stored name
    # of a bucket's key) and is the caller's own (their token or session).
    file_url = body["image"]["file_url"]
    assert file_url.endswith(f"/image/{project.pk}/{image.pk}/file")
    assert Client().get(file_url).status_code == 403
    fetched = client.get(file_url)
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content) == image.file.read()
    expires = parse_datetime(body["lease_expires_at"])
    assert before + timedelta(seconds=89) <= expires <= timezone.now() + timedelta(seconds=91)
    lease = Assignment.objects.get()
    assert (lease.image_id, lease.annotator_id, lease.project_id) == (
        image.pk,
        annotator.pk,
        project.pk,
    )


def test_an_annotator_works_through_every_image_then_gets_204(project, annotator, make_images):
    """Each image comes once; when all are labelled the queue answers 204."""
    images = make_images(project, 3)
    seen = []
    while (image_id := next_image(project, annotator)) is not None:
        assert image_id not in seen
        seen.append(image_id)
        label(project, annotator, image_id)
    assert sorted(seen) == [image.pk for image in images]
    assert not Assignment.objects.exists()


def test_an_empty_project_answers_204(project, annotator):
    """No images, nothing to do."""
    assert next_image(project, annotator) is None
    assert not Assignment.objects.exists()


def test_images_labelled_outside_the_queue_are_not_handed_out(project, annotator, make_images):
    """An image the caller already labelled never comes back to them."""
    first, second = make_images(project, 2)
    label(project, annotator, first.pk)
    assert next_image(project, annotator) == second.pk


def test_the_held_lease_comes_back_on_repeat_calls(project, annotator, make_images):
    """Asking again returns the same image, renewing rather than adding a lease."""
    make_images(project, 3)
    first = next_image(project, annotator)
    lease = Assignment.objects.get()
    assert next_image(project, annotator) == first
    assert next_image(project, annotator) == first
    renewed = Assignment.objects.get()
    assert renewed.pk == lease.pk
    assert renewed.expires_at >= lease.expires_at


def test_exclude_skips_prefetched_images(project, annotator, make_images):
    """?exclude=ids hands out another image; the excluded lease is kept."""
    images = make_images(project, 3)
    first = next_image(project, annotator)
    second = next_image(project, annotator, exclude=str(first))
    assert second not in (None, first)
    third = next_image(project, annotator, exclude=f" {first} ,{second},")
    assert {first, second, third} == {image.pk for image in images}
    assert next_image(project, annotator, exclude=f"{first},{second},{third}") is None
    assert Assignment.objects.filter(annotator=annotator).count() == 3
    assert next_image(project, annotator) == first


@pytest.mark.parametrize(
    "exclude", ["abc", "1,x", "1.5", "-1", "1;2", "0x10", "²", "99999999999999999999", "9" * 5000]
)
def test_a_bad_exclude_is_refused(project, annotator, make_images, exclude):
    """A malformed exclude answers 400 naming it, and leases nothing."""
    make_images(project, 1)
    before = row_counts()
    response = client_for(annotator).get(
        f"/api/v1/projects/{project.pk}/next/", {"exclude": exclude}
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"] == {"exclude": ["'exclude' must be comma-separated image ids."]}
    assert row_counts() == before


def test_exclude_may_name_ids_that_are_not_images(project, annotator, make_images):
    """Unknown ids in exclude are simply ignored."""
    (image,) = make_images(project, 1)
    assert next_image(project, annotator, exclude="999999,") == image.pk


# Overlap


@pytest.fixture
def third(project):
    user = UserFactory(username="ann3")
    add_member(project, user)
    return user


def test_overlap_caps_how_many_annotators_hold_an_image(
    project, annotator, annotator2, third, make_images
):
    """With overlap 2, two annotators share the one image and a third gets 204."""
    (image,) = make_images(project, 1)
    assert next_image(project, annotator) == image.pk
    assert next_image(project, annotator2) == image.pk
    assert next_image(project, third) is None
    assert Assignment.objects.count() == 2


def test_annotations_and_leases_together_fill_the_overlap(
    project, annotator, annotator2, third, make_images
):
    """One annotation plus one lease is a full image for overlap 2."""
    first, second = make_images(project, 2)
    label(project, annotator, first.pk)
    assert next_image(project, annotator2) == first.pk
    assert next_image(project, third) == second.pk


def test_overlap_one_gives_annotators_different_images(project, annotator, annotator2, make_images):
    """With overlap 1 no image is handed to two annotators."""
    project.overlap = 1
    project.save()
    images = make_images(project, 2)
    got = {next_image(project, annotator), next_image(project, annotator2)}
    assert got == {image.pk for image in images}
    late = UserFactory(username="late")
    add_member(project, late)
    assert next_image(project, late) is None


def test_complete_images_are_never_handed_out(project, annotator, annotator2, third, make_images):
    """An image labelled by `overlap` annotators is done."""
    first, second = make_images(project, 2)
    label(project, annotator, first.pk)
    label(project, annotator2, first.pk)
    assert next_image(project, third) == second.pk
    label(project, third, second.pk)
    assert next_image(project, third) is None


def test_raising_overlap_reopens_images(project, lead, annotator, annotator2, third, make_images):
    """Completed images come back once the lead raises overlap."""
    (image,) = make_images(project, 1)
    label(project, annotator, image.pk)
    label(project, annotator2, image.pk)
    assert next_image(project, third) is None
    response = client_for(lead).patch(
        f"/api/v1/projects/{project.pk}/", {"overlap": 3}, format="json"
    )
    assert response.status_code == 200
    assert next_image(project, third) == image.pk


# Expiry


def test_an_expired_lease_frees_the_image_for_others(project, annotator, annotator2, make_images):
    """An abandoned image comes back to someone else once its lease expires."""
    project.overlap = 1
    project.save()
    (image,) = make_images(project, 1)
    assert next_image(project, annotator) == image.pk
    assert next_image(project, annotator2) is None
    expire_leases()
    assert next_image(project, annotator2) == image.pk
    assert next_image(project, annotator) is None


def test_leases_last_the_configured_seconds(project, annotator, annotator2, make_images, settings):
    """With LABELER_LEASE_SECONDS = 0 a lease holds nothing back."""
    settings.LABELER_LEASE_SECONDS = 0
    project.overlap = 1
    project.save()
    (image,) = make_images(project, 1)
    assert next_image(project, annotator) == image.pk
    assert next_image(project, annotator2) == image.pk


def test_an_expired_own_lease_is_renewed_not_duplicated(project, annotator, make_images):
    """Coming back after expiry hands out the best image again with a fresh lease."""
    make_images(project, 2)
    first = next_image(project, annotator)
    expire_leases()
    assert next_image(project, annotator) == first
    lease = Assignment.objects.get()
    assert lease.expires_at > timezone.now()


# Priority


def test_higher_priority_images_come_first(project, annotator, make_images):
    """The queue hands out images by priority, highest first, then oldest."""
    images = make_images(project, 4)
    for image, priority in zip(images, [0.0, 5.0, -1.0, 5.0], strict=True):
        Image.objects.filter(pk=image.pk).update(priority=priority)
    order = []
    while (image_id := next_image(project, annotator)) is not None:
        order.append(image_id)
        label(project, annotator, image_id)
    assert order == [images[1].pk, images[3].pk, images[0].pk, images[2].pk]


def test_a_held_lease_wins_over_a_new_higher_priority_image(project, annotator, make_images):
    """Priority orders new leases; it does not take away the image an annotator holds."""
    first, second = make_images(project, 2)
    assert next_image(project, annotator) == first.pk
    Image.objects.filter(pk=second.pk).update(priority=10.0)
    assert next_image(project, annotator) == first.pk
    label(project, annotator, first.pk)
    assert next_image(project, annotator) == second.pk


def test_a_held_lease_on_an_image_completed_meanwhile_is_not_handed_out(
    project, lead, annotator, annotator2, make_images
):
    """Once lowering overlap completes the image an annotator holds, they get another."""
    first, second = make_images(project, 2)
    assert next_image(project, annotator) == first.pk
    label(project, annotator2, first.pk)
    response = client_for(lead).patch(
        f"/api/v1/projects/{project.pk}/", {"overlap": 1}, format="json"
    )
    assert response.status_code == 200
    assert next_image(project, annotator) == second.pk


def test_the_fast_payloads_match_their_declared_fields(project, annotator, make_images):
    """Image and annotation answers are built directly; they say what the fields say."""
    from rest_framework import serializers

    from api.annotations import AnnotationSerializer
    from api.images import ImageSerializer, QueueImageSerializer

    (image,) = make_images(project, 1)
    image.thumbnail = "thumbnails/x.jpg"
    for serializer in (ImageSerializer, QueueImageSerializer):
        fast = serializer(image)
        assert fast.data == serializers.ModelSerializer.to_representation(fast, image)
    annotation, _ = annotation_submit(
        project=project, annotator=annotator, image_id=image.pk, labels=["cat"]
    )
    fast_annotation = AnnotationSerializer(annotation)
    assert fast_annotation.data == serializers.ModelSerializer.to_representation(
        fast_annotation, annotation
    )
