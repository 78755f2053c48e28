"""Final labels written at the same time on PostgreSQL: the history credits each change once,
to whoever made it."""

from __future__ import annotations

import threading
import time

import pytest

from labeler.agreement import final_labels
from labeler.agreement.services import final_labels_refresh, image_decide
from labeler.annotations.models import LabelChange, LabelChangeKind
from tests.factories import annotation_submit
from tests.labeler.annotations.test_queue_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_decision_during_a_consensus_refresh_is_kept_once_as_the_leads(
    needs_postgres, project, lead, annotator, annotator2, make_images, monkeypatch
):
    """A lead decides an image while the refresh is computing consensus: the refresh does
    not take the lead's change for its own (no second row, none by the system), and the
    lead's row goes from the consensus label to the decision."""
    [image] = make_images(project, 1)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    final_labels_refresh(project=project)
    LabelChange.objects.all().delete()
    computing = threading.Event()
    consensus_rows = final_labels.consensus_rows

    def slow_consensus_rows(project):
        computing.set()
        time.sleep(1)  # the lead decides meanwhile
        return consensus_rows(project)

    monkeypatch.setattr(final_labels, "consensus_rows", slow_consensus_rows)

    def write(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        if i == 0:
            final_labels_refresh(project=project)
        else:
            assert computing.wait(timeout=10)
            image_decide(
                project=project, image_id=image.pk, labels=["dog"], decided_by=lead,
                method="adjudicated",
            )  # fmt: skip

    run_together(2, write)
    names = dict(project.labels.values_list("pk", "name"))
    rows = [
        (change.method, change.changed_by_id, [names[i] for i in change.from_label_ids],
         [names[i] for i in change.to_label_ids])
        for change in LabelChange.objects.filter(image=image, kind=LabelChangeKind.FINAL_SET)
    ]  # fmt: skip
    assert rows == [("adjudicated", lead.pk, ["cat"], ["dog"])]
