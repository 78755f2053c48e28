"""Bulk actions under real concurrency on PostgreSQL: two leads relabelling the same images
at once record each withdrawn annotation once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from labeler.annotations.models import Annotation, LabelChange, LabelChangeKind
from labeler.bulk.services import bulk_action
from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.labeler.annotations.test_queue_concurrency import bulk_images, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
IMAGES = 40


@pytest.fixture(autouse=True)
def _postgres_only(needs_postgres):
    assert connection.vendor == "postgresql"


def test_two_leads_relabelling_the_same_images_record_each_withdrawal_once(settings):
    """Both read the annotations before either deleted them: most withdrawals were
    recorded twice (2,701 of 2,874). The image rows are locked before the read now."""
    settings.LABELER_BULK_BACKGROUND_OVER = 10 * IMAGES  # both run in the request
    project = ProjectFactory(overlap=2)
    image_ids = bulk_images(project, IMAGES)
    annotators = [UserFactory(), UserFactory()]
    leads = [UserFactory(), UserFactory()]
    for user in annotators:
        add_member(project, user)
    for user in leads:
        add_member(project, user, role=Role.LEAD)
    for image_id in image_ids:
        for user in annotators:
            annotation_submit(project=project, annotator=user, image_id=image_id, labels=["cat"])
    annotations = set(Annotation.objects.values_list("pk", flat=True))
    assert len(annotations) == 2 * IMAGES

    def relabel(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        record = bulk_action(
            project=project,
            user=leads[i],
            action="relabel",
            selection={"ids": image_ids},
            expected_count=IMAGES,
        )
        return record.status

    assert run_together(2, relabel) == ["done", "done"]
    withdrawn = Counter(
        LabelChange.objects.filter(kind=LabelChangeKind.ANNOTATION_WITHDRAWN).values_list(
            "annotation_id", flat=True
        )
    )
    assert set(withdrawn) == annotations
    assert max(withdrawn.values()) == 1
    assert not Annotation.objects.exists()
