"""The lease cap under real concurrency on PostgreSQL: one annotator's requests sent
together never hold more than the cap, and none is told "nothing left" while images are open.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from labeler.annotations.models import Assignment
from labeler.annotations.queue import lease_cap, queue_next_image
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.annotations.test_queue_concurrency import bulk_images, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REQUESTS = 16
ROUNDS = 3


@pytest.fixture(autouse=True)
def _postgres_only(needs_postgres):
    assert connection.vendor == "postgresql"


def _together(user, url: str) -> list[int]:
    """Send the GET from REQUESTS threads at once, each with its own connection; the statuses."""

    client_for(user)  # the token made once, before the threads read it

    def ask(_: int, barrier: threading.Barrier) -> int:
        client = client_for(user)
        barrier.wait()
        return client.get(url).status_code

    return run_together(REQUESTS, ask)


def _hold(project, user, n: int) -> list[int]:
    """Lease n images to the user, one request at a time; their ids."""
    held: list[int] = []
    for _ in range(n):
        lease = queue_next_image(project=project, annotator=user, exclude=held)
        assert lease is not None
        held.append(lease.image_id)
    return held


def _live(user) -> int:
    return Assignment.objects.filter(annotator=user).count()


def test_concurrent_next_holds_the_cap_and_never_says_nothing_left():
    """An annotator two leases short of the cap sends 16 next/ at once, each excluding
    what they hold: they end holding more than before and never more than the cap, and
    every answer is an image (a new one, or a new one again: next/ hands back a held
    lease not excluded) or 409 lease_limit, never 204 while images are open."""
    project = ProjectFactory(overlap=1)
    bulk_images(project, 60)
    user = UserFactory()
    add_member(project, user)
    cap = settings.LABELER_MAX_LEASES
    for _ in range(ROUNDS):
        Assignment.objects.filter(annotator=user).delete()
        held = _hold(project, user, cap - 2)
        exclude = ",".join(map(str, held))
        statuses = _together(user, f"/api/v1/projects/{project.pk}/next/?exclude={exclude}")
        assert set(statuses) <= {200, 409}, sorted(Counter(statuses).items())
        assert cap - 2 < _live(user) <= cap


def test_concurrent_pages_hold_the_cap_and_never_say_nothing_left():
    """The same with 16 grid pages at once: the page cap holds exactly, and a page that
    could lease nothing is a 409 lease_limit, not 204."""
    project = ProjectFactory(overlap=1, grid_size=6)
    bulk_images(project, 60)
    user = UserFactory()
    add_member(project, user)
    cap = lease_cap(project, grid=True)
    for _ in range(ROUNDS):
        Assignment.objects.filter(annotator=user).delete()
        held = _hold(project, user, cap - 2)
        exclude = ",".join(map(str, held))
        url = f"/api/v1/projects/{project.pk}/queue/page/?size=2&exclude={exclude}"
        statuses = _together(user, url)
        assert set(statuses) <= {200, 409}, sorted(Counter(statuses).items())
        assert _live(user) == cap
