"""Membership services under real concurrency on PostgreSQL: a project keeps its last lead."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from labeler.errors import Conflict
from labeler.projects import services
from labeler.projects.models import Membership, Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def step_down(op: str) -> Callable[[Membership], None]:
    if op == "demote":
        return lambda m: services.membership_set(project=m.project, user=m.user, role="annotator")
    return lambda m: services.membership_remove(membership=m)


def race(op: str) -> list[str]:
    """Two leads of a fresh project step down at the same instant; what each was told."""
    project = ProjectFactory()
    leads = [add_member(project, UserFactory(), Role.LEAD) for _ in range(2)]
    barrier = threading.Barrier(2)

    def leave(membership: Membership) -> str:
        try:
            barrier.wait()
            step_down(op)(membership)
            return "ok"
        except Conflict:
            return "conflict"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(leave, leads))
    assert Membership.objects.filter(project=project, role=Role.LEAD).count() == 1
    return outcomes


@pytest.mark.parametrize("op", ["demote", "remove"])
def test_two_leads_stepping_down_at_once_leave_one_lead(needs_postgres, op):
    """Of two leads leaving at the same instant, one succeeds and one gets the 409 Conflict,
    never a deadlock error."""
    for _ in range(3):
        assert race(op) == ["conflict", "ok"]
