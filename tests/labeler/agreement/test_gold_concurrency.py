"""A reviewer's decision racing a lead's "mark gold" on PostgreSQL: gold is never lost."""

from __future__ import annotations

import threading

import pytest

from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.errors import PermissionDenied
from labeler.projects.models import Role
from tests.factories import UserFactory, add_member
from tests.labeler.annotations.test_queue_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RUNS = 20


def test_a_reviewers_decision_never_overwrites_a_gold_label_marked_at_the_same_time(
    needs_postgres, project, lead, make_images
):
    """Twenty images, each decided at once by a reviewer (dog) and marked gold by the lead
    (cat): every image ends gold with the lead's label. The reviewer either came first
    (and was overwritten by gold) or was refused; before the check moved under the
    final-label lock, the reviewer overwrote gold in most runs."""
    reviewer = UserFactory(username="racing-reviewer")
    add_member(project, reviewer, Role.REVIEWER)
    images = make_images(project, RUNS)
    refused = []

    def decide(i: int, barrier: threading.Barrier, image_id: int) -> None:
        barrier.wait()
        if i == 0:
            image_decide(
                project=project, image_id=image_id, labels=["cat"], decided_by=lead,
                method=FinalLabelMethod.GOLD,
            )  # fmt: skip
            return
        try:
            image_decide(
                project=project, image_id=image_id, labels=["dog"], decided_by=reviewer,
                method=FinalLabelMethod.ADJUDICATED, may_change_gold=False,
            )  # fmt: skip
        except PermissionDenied:
            refused.append(image_id)

    for image in images:
        run_together(2, lambda i, barrier, image_id=image.pk: decide(i, barrier, image_id))
    finals = FinalLabel.objects.filter(image__in=images).prefetch_related("labels")
    assert (
        sorted((f.method, [label.name for label in f.labels.all()]) for f in finals)
        == [("gold", ["cat"])] * RUNS
    )
