"""REST: writes sent with an Idempotency-Key are applied once and answered the same again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from labeler.annotations.models import Annotation, LabelChange, Skip
from labeler.idempotency.models import IdempotentRequest
from labeler.idempotency.services import idempotency_purge_expired
from labeler.images.counts import image_counts
from labeler.images.models import Image
from tests.factories import hold
from tests.rows import row_counts
from worker import tasks

pytestmark = pytest.mark.django_db
KEY = "8e0f3c1a-5d2b-4c7e-9f10-2a3b4c5d6e7f"


@pytest.fixture
def image(project, make_images, annotator, annotator2):
    """An image the queue handed to both annotators."""
    image = make_images(project, 1)[0]
    hold(project, annotator, image.pk)
    hold(project, annotator2, image.pk)
    return image


def submit(client, project, body, key=KEY):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        f"/api/v1/projects/{project.pk}/annotations/", body, format="json", **headers
    )


def test_a_retry_is_answered_as_the_first_and_applies_nothing(api_as, annotator, project, image):
    """The retry of the first submit, sent after the annotator changed the label by another
    request, does not change it back: it gets the first answer, marked replayed."""
    client = api_as(annotator)
    body = {"image": image.pk, "labels": ["cat"], "time_spent_ms": 800}
    first = submit(client, project, body)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    edit = {"image": image.pk, "labels": ["dog"]}
    assert submit(client, project, edit, key=None).status_code == 200
    before = row_counts()
    retry = submit(client, project, body)
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert row_counts() == before
    annotation = Annotation.objects.get()
    assert [label.name for label in annotation.labels.all()] == ["dog"]
    assert annotation.time_spent_ms == 800
    assert Image.objects.get(pk=image.pk).annotation_count == 1
    assert image_counts(project.pk).annotations == 1


def test_the_same_body_spelt_otherwise_is_the_same_request(api_as, annotator, project, image):
    client = api_as(annotator)
    url = f"/api/v1/projects/{project.pk}/annotations/"
    spellings = [
        f'{{"image": {image.pk}, "labels": ["cat"]}}',
        f'{{ "labels" : ["cat"],"image":{image.pk} }}',
    ]
    answers = [
        client.post(url, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)
        for raw in spellings
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[1]["Idempotent-Replayed"] == "true"
    assert Annotation.objects.count() == 1


def test_the_same_key_for_another_request_is_422(api_as, annotator, project, image, make_images):
    client = api_as(annotator)
    assert submit(client, project, {"image": image.pk, "labels": ["cat"]}).status_code == 201
    [other] = make_images(project, 1)
    before = row_counts()
    for response in (
        submit(client, project, {"image": image.pk, "labels": ["dog"]}),
        client.post(
            f"/api/v1/projects/{project.pk}/skips/",
            {"image": other.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY=KEY,
        ),
    ):
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
        assert "another request" in response.json()["detail"]
    assert row_counts() == before


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "caf\u00e9", "tab\there"], ids=repr)
def test_a_malformed_key_is_400_and_writes_nothing(api_as, annotator, project, image, key):
    before = row_counts()
    response = submit(api_as(annotator), project, {"image": image.pk, "labels": ["cat"]}, key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert response.json()["errors"]["Idempotency-Key"]
    assert row_counts() == before


def test_the_longest_key_is_taken(api_as, annotator, project, image):
    response = submit(api_as(annotator), project, {"image": image.pk, "labels": ["cat"]}, "k" * 255)
    assert response.status_code == 201


def test_a_refused_request_keeps_its_key_free(api_as, annotator, project, image):
    """Only answers of writes are stored: a refused request may be corrected and sent again."""
    client = api_as(annotator)
    refused = submit(client, project, {"image": image.pk, "labels": ["wolf"]})
    assert refused.status_code == 400
    assert not IdempotentRequest.objects.exists()
    again = submit(client, project, {"image": image.pk, "labels": ["wolf"]})
    assert again.status_code == 400 and "Idempotent-Replayed" not in again
    assert submit(client, project, {"image": image.pk, "labels": ["cat"]}).status_code == 201


def test_keys_are_per_user(api_as, annotator, annotator2, project, image):
    for user in (annotator, annotator2):
        response = submit(api_as(user), project, {"image": image.pk, "labels": ["cat"]})
        assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Annotation.objects.count() == 2


def test_a_member_removed_since_gets_no_replay(api_as, annotator, project, image):
    client = api_as(annotator)
    body = {"image": image.pk, "labels": ["cat"]}
    assert submit(client, project, body).status_code == 201
    project.memberships.filter(user=annotator).delete()
    response = submit(client, project, body)
    assert response.status_code == 404 and "Idempotent-Replayed" not in response


def test_a_retried_undo_is_answered_204_and_counts_down_once(api_as, annotator, project, image):
    client = api_as(annotator)
    annotation = submit(client, project, {"image": image.pk, "labels": ["cat"]}, key="submit")
    url = f"/api/v1/projects/{project.pk}/annotations/{annotation.json()['id']}/"
    first = client.delete(url, HTTP_IDEMPOTENCY_KEY="undo")
    retry = client.delete(url, HTTP_IDEMPOTENCY_KEY="undo")
    assert (first.status_code, retry.status_code) == (204, 204)
    assert retry["Idempotent-Replayed"] == "true"
    assert client.delete(url).status_code == 404  # without a key, the retry finds nothing
    assert Image.objects.get(pk=image.pk).annotation_count == 0
    assert LabelChange.objects.filter(kind="annotation_withdrawn").count() == 1


def test_a_retried_skip_is_one_skip(api_as, annotator, project, image):
    client = api_as(annotator)
    url = f"/api/v1/projects/{project.pk}/skips/"
    answers = [
        client.post(
            url, {"image": image.pk, "reason": "blurry"}, format="json", HTTP_IDEMPOTENCY_KEY=KEY
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert Skip.objects.count() == 1


def test_an_expired_key_is_free_again_and_purged(api_as, annotator, project, image, make_images):
    client = api_as(annotator)
    assert submit(client, project, {"image": image.pk, "labels": ["cat"]}).status_code == 201
    IdempotentRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    [other] = make_images(project, 1)
    hold(project, annotator, other.pk)
    reused = submit(client, project, {"image": other.pk, "labels": ["dog"]})
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused
    assert Annotation.objects.count() == 2
    submit(client, project, {"image": image.pk, "labels": ["dog"]}, key="fresh")
    IdempotentRequest.objects.filter(key=KEY).update(expires_at=timezone.now())
    assert idempotency_purge_expired() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["fresh"]
    stored = IdempotentRequest.objects.get()
    lifetime = stored.expires_at - stored.created_at
    assert lifetime == timedelta(seconds=settings.LABELER_IDEMPOTENCY_SECONDS)


def test_the_beat_schedule_purges_expired_keys():
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-expired-idempotency-keys"]
    assert schedule["task"] == tasks.idempotency_purge_expired.name


def test_a_multipart_body_with_a_file_is_fingerprinted_not_a_500(api_as, annotator, project, image):
    """A form body carrying a file (an image's bytes) under a key: answered as the same body
    without it would be, and its retry replayed; another file is another request."""
    client = api_as(annotator)
    url = f"/api/v1/projects/{project.pk}/annotations/"

    def send(content: bytes):
        body = {"image": image.pk, "labels": "cat", "note": SimpleUploadedFile("x.png", content)}
        return client.post(url, body, format="multipart", HTTP_IDEMPOTENCY_KEY=KEY)

    first = send(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert first.status_code == 201, first.content
    retry = send(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    other = send(b"\x89PNG\r\n\x1a\n\x00")
    assert other.status_code == 422
    assert Annotation.objects.count() == 1
