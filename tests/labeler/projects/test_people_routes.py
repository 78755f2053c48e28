"""Membership and addresses have one owner each, on every route.

Every call that adds or removes a member, found in the source rather than listed by hand,
goes through ``projects.services`` and names its route; every lookup of an account by
its address goes through ``projects.addresses``. Then each route is walked: a removed
person is brought back by none but a lead's add and an invitation made after the
removal, and an unconfirmed address is matched by none of them.
"""

from __future__ import annotations

import ast
import re
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from labeler.errors import Conflict
from labeler.imports.applying.labels import importer_account
from labeler.imports.planning.people import people_match
from labeler.imports.reading.records import Person
from labeler.projects import addresses, services
from labeler.projects.invitations import (
    account_with_email,
    invitation_accept,
    invitation_create,
    invitation_join,
)
from labeler.projects.models import AddressConfirmed, Invitation, Membership, Role
from labeler.projects.services import BY_HAND, IMPORT, INVITATION, SSO
from labeler.sso.identities import identity_login
from labeler.sso.models import GroupRoleMapping, OidcIdentity
from tests.factories import ProjectFactory, UserFactory, add_member

ROOT = Path(settings.BASE_DIR)
SOURCES = sorted(
    path
    for folder in ("labeler", "api", "worker")
    for path in (ROOT / folder).rglob("*.py")
    if "migrations" not in path.parts
)
WRITERS = ("membership_set", "membership_remove")
# The routes each module's calls name, as the owner reads them (``via``; an invitation
# given is the invitation route). A new caller fails the test until it is added here and
# its route is walked below.
CALLERS = {
    "api/members.py": {BY_HAND},
    "labeler/web/projects.py": {BY_HAND},
    "labeler/web/team.py": {BY_HAND},  # an admin's new account, with a project
    "labeler/demo/services.py": {BY_HAND},
    "labeler/projects/invitations.py": {INVITATION},
    "labeler/imports/applying/accounts.py": {IMPORT},
    "labeler/imports/applying/labels.py": {IMPORT},
    "labeler/annotations/accounts.py": {IMPORT},  # an imported account merged into a member
    "labeler/sso/roles.py": {SSO},
}
# Lookups by an account's address outside the owner, each with why it is no matching.
ADDRESS_LOOKUPS = {
    "labeler/projects/invitations.py": "an invitation's own address (its pending ones)",
    "labeler/projects/services.py": "a removed account's address, which only refuses",
    "labeler/annotations/qualification.py": "the leads' addresses a notice is mailed to",
    "labeler/exports/people.py": "the annotators' addresses an export writes",
}
ISSUER = "https://idp.example.org"
_EMAIL_KEY = re.compile(r"^(\w+__)*email(__\w+)?$")


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            yield node, name


def _route(call: ast.Call) -> str:
    words = {k.arg: k.value for k in call.keywords}
    if "invitation" in words:
        return INVITATION
    via = words.get("via")
    if via is None:
        return BY_HAND
    name = via.attr if isinstance(via, ast.Attribute) else getattr(via, "id", "")
    return getattr(services, name)


def test_every_membership_write_goes_through_the_owner_and_names_its_route():
    """Calls of ``membership_set``/``membership_remove`` by module, with their routes; no
    module writes ``Membership`` rows itself but the owner."""
    found: dict[str, set[str]] = {}
    direct = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        for call, name in _calls(tree):
            if name in WRITERS and rel != "labeler/projects/services.py":
                found.setdefault(rel, set()).add(_route(call))
            func = call.func
            if (
                name in ("create", "get_or_create", "update_or_create", "bulk_create", "delete")
                and isinstance(func, ast.Attribute)
                and "Membership.objects" in ast.unparse(func.value)
                and rel != "labeler/projects/services.py"
            ):
                direct.append(f"{rel}:{call.lineno}")
    assert found == CALLERS
    assert direct == []


def test_every_lookup_by_address_goes_through_the_owner():
    """A query naming an e-mail (``email__iexact``, ``user__email``...) lives in
    ``projects.addresses``, or is listed with why it matches no one to an address."""
    found = set()
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "labeler/projects/addresses.py":
            continue
        for call, name in _calls(ast.parse(path.read_text())):
            if name not in ("filter", "exclude", "get", "values", "values_list", "order_by"):
                continue
            keys: list[object] = [k.arg or "" for k in call.keywords]  # lookups
            if name in ("values", "values_list", "order_by"):  # fields read
                keys += [a.value for a in call.args if isinstance(a, ast.Constant)]
            if any(isinstance(k, str) and _EMAIL_KEY.match(k) for k in keys):
                found.add(rel)
    assert found == set(ADDRESS_LOOKUPS)


# Each route, walked on a person a lead removed: (a name for it, the attempt, and the
# username it would bring in; whether it may).
def _by_hand(project, lead, nora):
    return lambda: services.membership_set(project=project, user=nora, role=Role.ANNOTATOR), "nora"


def _old_invitation(project, lead, nora):
    token = _token(project, lead, days_ago=1)
    return lambda: invitation_accept(token=token, user=nora), "nora"


def _old_invitation_new_account(project, lead, nora):
    token = _token(project, lead, days_ago=1)
    return lambda: invitation_join(
        token=token, username="again", email=nora.email, password="a-long-phrase-9"
    ), "again"


def _new_invitation(project, lead, nora):
    token = _token(project, lead)
    return lambda: invitation_accept(token=token, user=nora), "nora"


def _import(project, lead, nora):
    # An account an import made ("bot"), removed by hand, named again by a later import.
    bot = User.objects.create_user(username="bot", is_active=False)
    add_member(project, bot)
    services.membership_remove(membership=Membership.objects.get(project=project, user=bot))
    return lambda: importer_account(project=project, name="bot"), "bot"


def _sso(project, lead, nora):
    GroupRoleMapping.objects.create(group="team", project=project, role=Role.ANNOTATOR)
    OidcIdentity.objects.create(user=nora, issuer=ISSUER, subject="nora-1")
    claims = {"sub": "nora-1", "email": nora.email, "groups": ["team"]}
    return lambda: identity_login(issuer=ISSUER, claims=claims), "nora"


WALKS = {
    BY_HAND: [(_by_hand, True)],
    INVITATION: [
        (_old_invitation, False),
        (_old_invitation_new_account, False),
        (_new_invitation, True),
    ],
    IMPORT: [(_import, False)],
    SSO: [(_sso, False)],
}


def test_every_route_is_walked():
    assert set(WALKS) == set(services.ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("walk", "brings_back"),
    [pair for route in services.ROUTES for pair in WALKS[route]],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_removal_sticks_on_every_route_but_a_lead_s_add_and_a_new_invitation(walk, brings_back):
    project = ProjectFactory(name="Pets")
    lead = UserFactory(username="lead")
    add_member(project, lead, Role.LEAD)
    nora = UserFactory(username="nora", email="nora@example.org")
    add_member(project, nora)
    services.membership_remove(membership=Membership.objects.get(project=project, user=nora))
    attempt, username = walk(project, lead, nora)
    with suppress(services.MemberRemoved):
        attempt()
    in_again = Membership.objects.filter(project=project, user__username=username).exists()
    assert in_again is brings_back


@pytest.mark.django_db
@pytest.mark.parametrize("confirmed", [False, True])
def test_an_unconfirmed_address_is_matched_by_no_route(settings, confirmed):
    """Mallory's account holds Carol's address. Unconfirmed, it takes no import's labels,
    no provider's sign-in, blocks no sign-up and no invitation; confirmed (the control),
    every route finds it."""
    settings.LABELER_OIDC_LINK_BY_EMAIL = True
    project = ProjectFactory(name="Pets")
    lead = UserFactory(username="lead")
    add_member(project, lead, Role.LEAD)
    mallory = UserFactory(username="mallory", email="carol@example.org")
    add_member(project, mallory)
    if confirmed:
        addresses.email_mark_verified(user=mallory, how=AddressConfirmed.ADMIN)
    [match] = people_match(project=project, people=[Person("ls:1", email="Carol@example.org")])
    assert (match.user_id == mallory.pk) is confirmed
    assert (account_with_email("CAROL@example.org") == mallory) is confirmed
    with _refused_if(confirmed, Conflict):
        invitation_create(project=project, by=lead, base_url="http://t/", email="carol@example.org")
    with _refused_if(confirmed, Conflict):
        invitation_join(
            token=_token(project, lead),
            username="carol",
            email="carol@example.org",
            password="a-long-phrase-9",
        )
    claims = {"sub": "carol-1", "email": "carol@example.org", "email_verified": True}
    assert (identity_login(issuer=ISSUER, claims=claims) == mallory) is confirmed


@contextmanager
def _refused_if(refused: bool, error: type[Exception]):
    if refused:
        with pytest.raises(error):
            yield
    else:
        yield


def _token(project, lead, days_ago=0) -> str:
    made = invitation_create(project=project, by=lead, base_url="http://t/")
    if days_ago:
        Invitation.objects.filter(pk=made.invitation.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return made.link.rstrip("/").rsplit("/", 1)[1]
