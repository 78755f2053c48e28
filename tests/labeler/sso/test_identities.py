"""Who a provider's account is here (labeler.sso.identities), without a provider."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousOperation

from labeler.projects.models import Membership, Role
from labeler.sso.identities import claim_groups, identity_login
from labeler.sso.models import GroupRoleMapping
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
ISSUER = "https://id.example.org"


def test_same_sub_is_the_same_user_and_details_follow():
    """The sub claim finds the account again; the name and e-mail follow the provider's."""
    first = identity_login(issuer=ISSUER, claims={"sub": "1", "preferred_username": "kim"})
    again = identity_login(
        issuer=ISSUER, claims={"sub": "1", "email": "kim@example.org", "name": "Kim Lee"}
    )
    assert again == first
    assert (again.email, again.first_name, again.last_name) == ("kim@example.org", "Kim", "Lee")


def test_same_sub_at_another_issuer_is_another_user():
    """A sub is only unique at its issuer."""
    one = identity_login(issuer=ISSUER, claims={"sub": "1", "preferred_username": "kim"})
    other = identity_login(issuer="https://other.example", claims={"sub": "1"})
    assert other != one


def test_email_link_only_when_allowed_and_verified(settings):
    """With LABELER_OIDC_LINK_BY_EMAIL, a verified e-mail of one local account, confirmed
    there too, links to it."""
    local = UserFactory(username="ada", email="ada@example.org", email_verified=True)
    claims = {"sub": "9", "email": "ADA@example.org", "email_verified": False}
    settings.LABELER_OIDC_LINK_BY_EMAIL = True
    assert identity_login(issuer=ISSUER, claims=claims) != local
    claims = {**claims, "sub": "10", "email_verified": True}
    assert identity_login(issuer=ISSUER, claims=claims) == local


def test_odd_claims_still_make_an_account():
    """No username, an address that is none, a name of spaces: an account all the same."""
    user = identity_login(
        issuer=ISSUER, claims={"sub": "x", "email": "not an address", "name": "  "}
    )
    assert user.username == "user" and user.email == ""


@pytest.mark.parametrize("sub", [None, "", 5, "s" * 256])
def test_unusable_sub_is_refused(sub):
    with pytest.raises(SuspiciousOperation):
        identity_login(issuer=ISSUER, claims={"sub": sub})


def test_groups_claim_name_is_configurable(settings):
    """The groups come from the claim the setting names; a single string is one group."""
    settings.LABELER_OIDC_GROUPS_CLAIM = "roles"
    assert claim_groups({"roles": "labellers", "groups": ["x"]}) == ["labellers"]
    assert claim_groups({"roles": {"a": 1}}) == []
    project = ProjectFactory()
    GroupRoleMapping.objects.create(group="labellers", project=project, role=Role.ANNOTATOR)
    user = identity_login(issuer=ISSUER, claims={"sub": "r", "roles": ["labellers", 3]})
    assert Membership.objects.get(user=user).role == Role.ANNOTATOR


def test_inactive_user_gets_no_roles():
    """A deactivated account's roles are not changed by its provider's groups."""
    project = ProjectFactory()
    GroupRoleMapping.objects.create(group="g", project=project, role=Role.ANNOTATOR)
    user = identity_login(issuer=ISSUER, claims={"sub": "d"})
    user.is_active = False
    user.save()
    identity_login(issuer=ISSUER, claims={"sub": "d", "groups": ["g"]})
    assert not Membership.objects.filter(user=user).exists()
