"""Retried submits under real concurrency on PostgreSQL: one annotation, one count.

A client that timed out sends its submit again while the first is still running; these
send it RETRIES times at the same instant, from as many threads and connections.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from labeler.annotations.models import Annotation, LabelChange
from labeler.idempotency.models import IdempotentRequest
from labeler.images.counts import image_counts
from labeler.images.models import Image
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, hold
from tests.labeler.annotations.test_queue_concurrency import bulk_images, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RETRIES = 12


@pytest.fixture(autouse=True)
def _postgres_only(needs_postgres):
    assert connection.vendor == "postgresql"


def test_identical_submits_at_once_write_one_annotation():
    """The same submit sent many times at the same instant (a client retrying without a key):
    one annotation, counted once, and every request answers with it."""
    project = ProjectFactory(overlap=2)
    [image_id] = bulk_images(project, 1)
    user = UserFactory()
    add_member(project, user)

    def submit(i: int, barrier: threading.Barrier) -> tuple[int, bool]:
        barrier.wait()
        annotation, created = annotation_submit(
            project=project, annotator=user, image_id=image_id, labels=["cat"]
        )
        return annotation.pk, created

    answers = run_together(RETRIES, submit)
    assert len({pk for pk, _ in answers}) == 1
    assert sum(created for _, created in answers) == 1
    assert Annotation.objects.count() == 1
    assert Image.objects.get(pk=image_id).annotation_count == 1


@pytest.mark.parametrize("key", [None, "retry-1"], ids=["without a key", "with a key"])
def test_retried_submits_through_the_api_count_once(key):
    """Through the REST API, with and without an Idempotency-Key: one annotation, counted
    once on the image and the project, one history row, and every answer names it. With
    the key, every answer but the first is that first answer, replayed."""
    project = ProjectFactory(overlap=2)
    [image_id] = bulk_images(project, 1)
    user = UserFactory()
    add_member(project, user)
    hold(project, user, image_id)  # as next/ handed it out
    clients = [client_for(user) for _ in range(RETRIES)]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"image": image_id, "labels": ["cat"], "time_spent_ms": 500}

    def submit(i: int, barrier: threading.Barrier) -> tuple[int, dict, bool]:
        barrier.wait()
        response = clients[i].post(
            f"/api/v1/projects/{project.pk}/annotations/", body, format="json", **headers
        )
        return response.status_code, response.json(), response.has_header("Idempotent-Replayed")

    answers = run_together(RETRIES, submit)
    assert {answer["id"] for _, answer, _ in answers} == {Annotation.objects.get().pk}
    assert sorted(code for code, _, _ in answers) == (
        [201] * RETRIES if key else [200] * (RETRIES - 1) + [201]
    )
    assert sum(replayed for *_, replayed in answers) == (RETRIES - 1 if key else 0)
    if key:
        assert len({str(answer) for _, answer, _ in answers}) == 1
        assert IdempotentRequest.objects.get().status == 201
    assert Annotation.objects.get().time_spent_ms == 500
    assert Image.objects.get(pk=image_id).annotation_count == 1
    assert image_counts(project.pk).annotations == 1
    assert LabelChange.objects.count() == 1
