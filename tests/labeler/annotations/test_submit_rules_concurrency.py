"""Labels sent at once from everywhere on PostgreSQL: no image ends past its overlap."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.annotations.models import Annotation, Assignment
from labeler.annotations.submit import annotation_submit
from labeler.errors import Conflict
from labeler.images.models import Image
from tests.factories import ProjectFactory, UserFactory, add_member, hold
from tests.labeler.annotations.test_queue_concurrency import bulk_images, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 12


@pytest.mark.parametrize("overlap", [1, 2, 3])
def test_labels_from_leases_late_leases_and_no_lease_never_pass_the_overlap(
    needs_postgres, overlap
):
    """Per image, a third of the annotators hold a live lease, a third one that expired,
    a third none; all post at once, over 5 images. Each image ends with at most
    ``overlap`` annotations, its count equal to its rows, and every live lease's label in."""
    project = ProjectFactory(overlap=overlap)
    users = [UserFactory(username=f"racer{i}") for i in range(ANNOTATORS)]
    for user in users:
        add_member(project, user)
    image_ids = bulk_images(project, 5)
    live = {image_id: users[: min(overlap, 4)] for image_id in image_ids}
    late = {image_id: users[4:8] for image_id in image_ids}
    for image_id in image_ids:
        for user in late[image_id]:
            Assignment.objects.create(
                project=project,
                image_id=image_id,
                annotator=user,
                expires_at=timezone.now() - timedelta(seconds=5),
            )
        for user in live[image_id]:
            hold(project, user, image_id)
    outcomes: dict[str, int] = {"taken": 0, "refused": 0}
    lock = threading.Lock()

    def label(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        for image_id in image_ids:
            try:
                annotation_submit(
                    project=project, annotator=users[i], image_id=image_id, labels=["cat"]
                )
                result = "taken"
            except Conflict:
                result = "refused"
            with lock:
                outcomes[result] += 1

    run_together(ANNOTATORS, label)
    for image_id in image_ids:
        image = Image.objects.get(pk=image_id)
        rows = Annotation.objects.filter(image_id=image_id)
        assert rows.count() <= overlap
        assert image.annotation_count == rows.count()
        assert image.is_complete == (rows.count() >= overlap)
        holders = {user.pk for user in live[image_id]}
        assert holders <= set(rows.values_list("annotator_id", flat=True))
    assert outcomes["taken"] == sum(
        Annotation.objects.filter(image_id=i).count() for i in image_ids
    )
    assert outcomes["refused"] == ANNOTATORS * len(image_ids) - outcomes["taken"]
