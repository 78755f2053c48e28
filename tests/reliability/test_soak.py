"""A soak on PostgreSQL: 50 annotators over real HTTP against gunicorn, then an audit.

The server runs as production runs it (``bench.load_stack``: gunicorn, DEBUG off) on the
test database, with leases of a few seconds and its tasks in-process. The annotators
(``soak_client``) loop next -> submit; some retry submits, edit past labels, or walk
away holding a lease.
Afterwards the database must hold every acknowledged submit exactly once, with its last
labels; no image beyond ``overlap``; counters equal to the rows; and, once the leases
expire and the purge runs, no lease at all.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bench.load_client import Plan, chunked, pool_run
from bench.load_data import project_prepare, users_prepare
from bench.load_stack import GunicornSetup, stack_env, stack_running
from labeler.annotations.models import Annotation, Assignment
from labeler.annotations.services import assignments_purge_expired
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.reliability.soak_client import SoakLogin, SoakTally, soak_process
from tests.reliability.stack import served_database_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ANNOTATORS = 50
ABANDONING = 5  # of them walk away holding a lease
OVERLAP = 3
IMAGES = 6000
# 15 s in the suite; `make soak` runs it for longer (SOAK_SECONDS).
SECONDS = float(os.environ.get("SOAK_SECONDS", "15"))
LEASE_SECONDS = 8


@pytest.fixture
def soak_project(transactional_db, needs_postgres, tmp_path: Path):
    names = users_prepare(ANNOTATORS)
    project = project_prepare(IMAGES, overlap=OVERLAP, annotators=names, media=tmp_path / "media")
    logins = [
        SoakLogin(name, _token(name), abandons=n < ABANDONING) for n, name in enumerate(names)
    ]
    return project, logins


def _token(username: str) -> str:
    token, _ = Token.objects.get_or_create(user=User.objects.get(username=username))
    return token.key


def test_fifty_annotators_lose_nothing_and_hold_nothing(
    soak_project, tmp_path: Path, settings
) -> None:
    """Every acknowledged submit is stored once with its last labels; no image beyond
    overlap; counters match rows; no 5xx; leases left are the abandoned ones, gone after
    the purge."""
    project, logins = soak_project
    # No broker: the refreshes the submits schedule run on each gunicorn worker's task
    # thread, and no message outlives the test in a Redis that later tests' workers read.
    env = stack_env(database_url=served_database_url(), redis_url="", var_dir=tmp_path / "var")
    env.update(LABELER_LEASE_SECONDS=str(LEASE_SECONDS), LOG_LEVEL="WARNING")
    labels = list(project.labels.order_by("position").values_list("name", flat=True))
    with stack_running(
        env, GunicornSetup.parse("gthread:2x8"), tmp_path / "logs", workers=False
    ) as stack:
        plan = Plan(stack.base_url, project.pk, labels, SECONDS, max_loops=0, overlap=OVERLAP)
        tally, _ = pool_run(
            soak_process, plan, chunked(logins, 10), on_start=lambda: None, total=SoakTally()
        )
    assert isinstance(tally, SoakTally)

    requests = sum(tally.statuses.values())
    errors = {key: count for key, count in tally.statuses.items() if key.split()[1][0] != "2"}
    print(
        f"\nsoak: {ANNOTATORS} annotators ({ABANDONING} abandoning), {SECONDS:.0f} s, "
        f"{requests} requests, {tally.acknowledged} acknowledged submits "
        f"({tally.created} created, {tally.retries} retried, {tally.edits} edits), "
        f"errors {sum(errors.values())} {errors or ''}"
    )
    assert errors == {}  # a well-behaved client is never refused, let alone failed
    assert tally.acknowledged > ANNOTATORS, "the soak hardly ran"

    stored = {
        (a.annotator.username, a.image_id): sorted(label.name for label in a.labels.all())
        for a in Annotation.objects.filter(project=project)
        .select_related("annotator")
        .prefetch_related("labels")
    }
    assert Annotation.objects.filter(project=project).count() == len(stored)  # no duplicates
    assert stored == {key: [label] for key, label in tally.ledger.items()}
    assert tally.created == len(stored)

    counts = Counter(image_id for _, image_id in stored)
    images = Image.objects.filter(project=project)
    assert max(counts.values()) <= OVERLAP
    mismatched = [
        image.pk
        for image in images.only("annotation_count", "is_complete")
        if image.annotation_count != counts[image.pk]
        or image.is_complete != (counts[image.pk] >= OVERLAP)
    ]
    assert mismatched == []

    held = set(
        Assignment.objects.filter(project=project).values_list("annotator__username", "image_id")
    )
    assert tally.abandoned and held <= set(tally.abandoned)
    time.sleep(max(0.0, LEASE_SECONDS + 1 - _age_of_newest_lease(project)))
    settings.LABELER_LATE_SUBMIT_SECONDS = 0  # no late label is on its way
    assert assignments_purge_expired() == len(held)
    assert not Assignment.objects.filter(project=project).exists()


def _age_of_newest_lease(project: Project) -> float:
    newest = Assignment.objects.filter(project=project).order_by("-created_at").first()
    if newest is None:
        return LEASE_SECONDS + 1
    return (timezone.now() - newest.created_at).total_seconds()
