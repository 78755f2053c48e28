"""Invitations under real concurrency on PostgreSQL: a link's last use is taken once, and
two people choosing the same username at once are told it is taken, never a 500."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import connections

from labeler.errors import Conflict
from labeler.projects.invitations import InvitationUnusable, invitation_create, invitation_join
from labeler.projects.models import Invitation, Membership, Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-secret-phrase"


def link_token(project, lead, **kwargs) -> str:
    made = invitation_create(project=project, by=lead, base_url="http://testserver/", **kwargs)
    return made.link.rstrip("/").rsplit("/", 1)[1]


def joining(token: str, username: str, email: str) -> Callable[[], object]:
    return functools.partial(
        invitation_join, token=token, username=username, email=email, password=PASSWORD
    )


def at_once(calls: list[Callable[[], object]]) -> list[str]:
    """Run the calls at the same instant; what each ended in, sorted."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> str:
        try:
            barrier.wait()
            call()
            return "ok"
        except Conflict:
            return "conflict"
        except InvitationUnusable:
            return "used_up"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return sorted(pool.map(run, calls))


@pytest.fixture
def team():
    lead = UserFactory(username="lead")
    project = ProjectFactory(name="Pets")
    add_member(project, lead, Role.LEAD)
    return project, lead


def test_the_last_use_of_a_link_is_taken_once(needs_postgres, team):
    project, lead = team
    for n in range(3):
        token = link_token(project, lead, max_uses=1)
        calls = [joining(token, f"{who}{n}", f"{who}{n}@example.org") for who in ("ann", "bea")]
        assert at_once(calls) == ["ok", "used_up"]
    assert list(Invitation.objects.values_list("uses", flat=True)) == [1, 1, 1]
    assert Membership.objects.filter(project=project).count() == 1 + 3
    assert User.objects.count() == 1 + 3  # no account left without its membership


def test_one_username_chosen_on_two_links_at_once_is_taken_once(needs_postgres, team):
    project, lead = team
    first, second = link_token(project, lead), link_token(project, lead)
    for n in range(3):
        calls = [
            joining(token, f"nora{n}", f"{who}{n}@example.org")
            for token, who in ((first, "a"), (second, "b"))
        ]
        assert at_once(calls) == ["conflict", "ok"]
        assert User.objects.filter(username=f"nora{n}").count() == 1
    assert Membership.objects.filter(project=project).count() == 1 + 3
