"""Retried submits under real concurrency on PostgreSQL: one annotation, one count."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from labeler.annotations.models import Annotation
from labeler.annotations.services import annotation_submit
from labeler.images.models import Image
from tests.factories import ProjectFactory, UserFactory, add_member
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
