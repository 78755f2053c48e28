"""Adaptive overlap under real concurrency on PostgreSQL: every image gets exactly the
annotators its labels asked for, each annotator at most once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from labeler.annotations.models import Annotation, Assignment
from labeler.annotations.queue import queue_next_image
from labeler.annotations.submit import annotation_submit
from labeler.images.models import Image
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.annotations.test_adaptive import (
    THRESHOLD,
    assert_each_image_asked_exactly_what_its_labels_needed,
)
from tests.labeler.annotations.test_queue_concurrency import bulk_images, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(needs_postgres):
    assert connection.vendor == "postgresql"


def test_annotators_label_everything_exactly_as_often_as_asked():
    """Annotators loop next -> submit concurrently until the queue is empty, all agreeing
    on half the images and split by parity on the rest: agreed images end with exactly 2
    annotations, the others with as many as their labels asked for (up to 4), all from
    distinct annotators, every image complete and no lease left over."""
    project = ProjectFactory(
        overlap=2, overlap_mode="adaptive", overlap_max=4, adaptive_confidence=THRESHOLD
    )
    image_ids = bulk_images(project, 30)
    agreed = set(image_ids[::2])
    annotators = [UserFactory() for _ in range(8)]
    for user in annotators:
        add_member(project, user)

    def work(i: int, barrier: threading.Barrier) -> int:
        barrier.wait()
        done = 0
        while (lease := queue_next_image(project=project, annotator=annotators[i])) is not None:
            label = "cat" if lease.image_id in agreed or i % 2 == 0 else "dog"
            # The service itself (not the flow): no consensus refresh, so every annotator
            # keeps the prior accuracy and each decision can be replayed exactly.
            annotation_submit(
                project=project, annotator=annotators[i], image_id=lease.image_id, labels=[label]
            )
            done += 1
        return done

    # A thread stops when the queue is empty at that instant, but a submit still running
    # on another thread may then ask for one more annotator: rounds run until one finds
    # nothing left, as annotators coming back later would.
    total = 0
    while given := sum(run_together(len(annotators), work)):
        total += given
    counts = Counter(Annotation.objects.values_list("image_id", flat=True))
    assert total == sum(counts.values())
    assert all(counts[image_id] == 2 for image_id in agreed)
    # Who comes first to a split image is up to the threads: two who happen to agree
    # settle it; the replay below checks each image against its own labels.
    contested = [counts[image_id] for image_id in set(image_ids) - agreed]
    assert all(2 <= n <= 4 for n in contested) and max(contested) > 2
    pairs = Counter(Annotation.objects.values_list("image_id", "annotator_id"))
    assert max(pairs.values()) == 1
    assert_each_image_asked_exactly_what_its_labels_needed(project)
    assert not Image.objects.filter(is_complete=False).exists()
    assert not Assignment.objects.exists()


def test_simultaneous_next_never_leases_beyond_what_an_image_asks_for():
    """Split images that asked for a third opinion, and many annotators asking at the same
    instant: each is leased once more, never twice, and never to its own annotators."""
    project = ProjectFactory(
        overlap=2, overlap_mode="adaptive", overlap_max=4, adaptive_confidence=THRESHOLD
    )
    image_ids = bulk_images(project, 6)
    first = [UserFactory() for _ in range(2)]
    for user in first:
        add_member(project, user)
    for user, label in zip(first, ["cat", "dog"], strict=True):
        for _ in image_ids:
            lease = queue_next_image(project=project, annotator=user)
            assert lease is not None
            annotation_submit(
                project=project, annotator=user, image_id=lease.image_id, labels=[label]
            )
    assert set(Image.objects.values_list("extra_annotations", "is_complete")) == {(1, False)}
    annotators = [*first, *(UserFactory() for _ in range(16))]
    for user in annotators[2:]:
        add_member(project, user)

    def ask(i: int, barrier: threading.Barrier) -> int | None:
        barrier.wait()
        lease = queue_next_image(project=project, annotator=annotators[i])
        return lease.image_id if lease else None

    got = run_together(len(annotators), ask)
    assert got[:2] == [None, None]  # the first two labelled every image already
    per_image = Counter(image_id for image_id in got if image_id is not None)
    assert per_image == Counter({image_id: 1 for image_id in image_ids})
    assert Assignment.objects.count() == len(image_ids)
