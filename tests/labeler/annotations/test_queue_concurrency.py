"""The queue under real concurrency on PostgreSQL: no image is handed out beyond overlap."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from django.db import connection, connections

from labeler.annotations.models import Annotation, Assignment
from labeler.annotations.queue import queue_next_image
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
T = TypeVar("T")


@pytest.fixture(autouse=True)
def _postgres_only(needs_postgres):
    assert connection.vendor == "postgresql"


def bulk_images(project: Project, n: int) -> list[int]:
    Image.objects.bulk_create(
        Image(
            project=project,
            file=f"images/{project.pk}/{i}.png",
            original_name=f"{i}.png",
            sha256=f"{i:064x}",
            width=8,
            height=8,
            format="PNG",
            size_bytes=100,
        )
        for i in range(n)
    )
    return list(Image.objects.filter(project=project).values_list("pk", flat=True))


def run_together(workers: int, job: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run job(i, barrier) in `workers` threads, each with its own database connection."""
    barrier = threading.Barrier(workers)

    def wrapped(i: int) -> T:
        try:
            return job(i, barrier)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(wrapped, range(workers)))


@pytest.mark.parametrize("overlap", [1, 2])
def test_simultaneous_next_never_over_assigns(overlap):
    """Many annotators asking at the same instant: each image leased at most `overlap` times,
    and no annotator is told "nothing left" while a slot was free."""
    project = ProjectFactory(overlap=overlap)
    bulk_images(project, 8)
    annotators = [UserFactory() for _ in range(24)]
    for user in annotators:
        add_member(project, user)

    def ask(i: int, barrier: threading.Barrier) -> int | None:
        barrier.wait()
        lease = queue_next_image(project=project, annotator=annotators[i])
        return lease.image_id if lease else None

    got = run_together(len(annotators), ask)
    per_image = Counter(image_id for image_id in got if image_id is not None)
    assert max(per_image.values()) <= overlap
    assert sum(per_image.values()) == min(8 * overlap, len(annotators))
    assert Assignment.objects.count() == sum(per_image.values())


def test_annotators_label_everything_exactly_overlap_times():
    """Annotators loop next -> submit concurrently until the queue is empty: every image ends
    with exactly `overlap` annotations from distinct annotators, and no lease is left over."""
    project = ProjectFactory(overlap=3)
    image_ids = bulk_images(project, 30)
    annotators = [UserFactory() for _ in range(8)]
    for user in annotators:
        add_member(project, user)

    def work(i: int, barrier: threading.Barrier) -> int:
        barrier.wait()
        done = 0
        while (lease := queue_next_image(project=project, annotator=annotators[i])) is not None:
            annotation_submit(
                project=project,
                annotator=annotators[i],
                image_id=lease.image_id,
                labels=["cat"],
            )
            done += 1
        return done

    assert sum(run_together(len(annotators), work)) == 30 * 3
    counts = Counter(Annotation.objects.values_list("image_id", flat=True))
    assert counts == Counter({image_id: 3 for image_id in image_ids})
    assert set(Image.objects.values_list("annotation_count", "is_complete")) == {(3, True)}
    assert not Assignment.objects.exists()
