"""Single sign-on end to end against a real provider (django-oauth-toolkit, started by the
tests): accounts made from claims, groups mapped to roles and taken back, and every way a
sign-in can go wrong answered with a clear page."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from labeler.audit.models import Action, AuditEntry
from labeler.projects.models import Membership, Role
from labeler.sso.models import STAFF, GroupRoleMapping, OidcIdentity, RoleGrant
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.sso.flow import callback_address, follow, provider_login, sign_in
from tests.oidc_provider.fixtures import PASSWORD, provider_user
from tests.oidc_provider.server import KEY_HEADER, public_pem, rsa_private_pem

pytestmark = pytest.mark.slow


@pytest.fixture
def signals():
    """The login signals sent during the test, by name."""
    sent: dict[str, list] = {"in": [], "failed": []}

    def logged_in(sender, user, **kwargs):
        sent["in"].append(user.username)

    def failed(sender, credentials, **kwargs):
        sent["failed"].append(credentials)

    user_logged_in.connect(logged_in, weak=False)
    user_login_failed.connect(failed, weak=False)
    yield sent
    user_logged_in.disconnect(logged_in)
    user_login_failed.disconnect(failed)


def test_first_login_makes_the_account_and_maps_groups(sso, live_server, signals):
    """A first sign-in makes the user from the claims, ties it to the sub claim, logs them
    in (user_logged_in sent) and gives the roles the admin mapped to their groups."""
    project = ProjectFactory()
    GroupRoleMapping.objects.create(group="labellers", project=project, role=Role.REVIEWER)
    GroupRoleMapping.objects.create(group="admins", project=None, role=STAFF)
    provider_user(sso, "grace", ["labellers", "admins", "unmapped"], first_name="Grace")

    session, page = sign_in(live_server.url, "grace")

    assert page.status_code == 200 and page.url.rstrip("/") == live_server.url
    user = User.objects.get(username="grace")
    assert (user.email, user.first_name, user.last_name) == ("grace@example.org", "Grace", "Tester")
    assert not user.has_usable_password()
    assert user.is_staff
    assert OidcIdentity.objects.get(user=user).issuer == sso.issuer
    assert Membership.objects.get(project=project, user=user).role == Role.REVIEWER
    assert signals["in"] == ["grace"] and signals["failed"] == []
    # The audit trail names the sign-in as single sign-on's.
    entry = AuditEntry.objects.get(action=Action.LOGIN, actor_id=user.pk)
    assert entry.details == {"via": "sso"} and entry.address == "127.0.0.1"
    made = AuditEntry.objects.get(action=Action.ACCOUNT_FLAGS_CHANGED, target_id=str(user.pk))
    assert made.details == {"before": {"is_staff": False}, "after": {"is_staff": True}}
    # The session works: a page behind the login answers, not a redirect to it.
    assert session.get(f"{live_server.url}/team/", allow_redirects=False).status_code == 200


def test_roles_taken_back_when_groups_go_hand_given_kept(sso, live_server):
    """At the next login, roles the mapping gave and the groups no longer give are taken
    back (a raised role goes back to the hand-given one); roles given by hand stay."""
    raised, granted, by_hand = ProjectFactory(), ProjectFactory(), ProjectFactory()
    for project in (raised, granted):
        GroupRoleMapping.objects.create(group="team", project=project, role=Role.LEAD)
        add_member(project, UserFactory(), Role.LEAD)  # a lead that stays
    GroupRoleMapping.objects.create(group="team", project=None, role=STAFF)
    provider_user(sso, "linus", ["team"])
    sign_in(live_server.url, "linus")
    user = User.objects.get(username="linus")
    add_member(by_hand, user, Role.ANNOTATOR)
    Membership.objects.filter(project=raised, user=user).update(role=Role.ANNOTATOR)
    RoleGrant.objects.filter(project=raised).update(role=Role.ANNOTATOR)
    sign_in(live_server.url, "linus")  # raised again: annotator by hand, lead by group
    assert Membership.objects.get(project=raised, user=user).role == Role.LEAD
    RoleGrant.objects.filter(project=raised).update(previous_role=Role.ANNOTATOR)

    provider_user(sso, "linus", [])
    _, page = sign_in(live_server.url, "linus")

    assert page.status_code == 200
    user.refresh_from_db()
    assert not user.is_staff
    assert not Membership.objects.filter(project=granted, user=user).exists()
    assert Membership.objects.get(project=raised, user=user).role == Role.ANNOTATOR
    assert Membership.objects.get(project=by_hand, user=user).role == Role.ANNOTATOR
    assert not RoleGrant.objects.filter(user=user).exists()


def test_local_account_is_not_taken_over_by_email(sso, live_server):
    """A provider account whose e-mail is a local account's gets its own account."""
    local = UserFactory(username="ada", email="ada@example.org", is_staff=True)
    provider_user(sso, "ada", [], email="ada@example.org")

    sign_in(live_server.url, "ada")

    identity = OidcIdentity.objects.get()
    assert identity.user != local and identity.user.username == "ada-2"
    assert not identity.user.is_staff


def test_local_login_still_works(sso, live_server):
    """With single sign-on on, the login page offers it beside the local form, which works."""
    UserFactory(username="local")
    session = requests.Session()
    page = session.get(f"{live_server.url}/login/")
    assert "Sign in with Test provider" in page.text and 'name="password"' in page.text
    sent = session.post(
        f"{live_server.url}/login/",
        data={
            "username": "local",
            "password": "correct-horse-battery",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/",
        },
        headers={"Referer": f"{live_server.url}/login/"},
        allow_redirects=False,
    )
    assert sent.status_code == 302 and sent.headers["Location"] == "/"


def test_wrong_state_is_refused(sso, live_server, signals):
    """A callback whose state this browser did not start is refused with a 400 page."""
    provider_user(sso, "eve", [])
    session = requests.Session()
    callback = callback_address(live_server.url, "eve", session)

    page = follow(session, callback.replace("state=", "state=forged"))

    assert page.status_code == 400 and "could not be verified" in page.text
    assert not User.objects.filter(username="eve").exists()
    assert signals["in"] == [] and len(signals["failed"]) == 1
    failed = AuditEntry.objects.get(action=Action.LOGIN_FAILED)
    assert failed.details["via"] == "sso" and failed.details["issuer"] == sso.issuer
    assert failed.details["reason"] and failed.address == "127.0.0.1"


def test_wrong_nonce_is_refused(sso, live_server, signals, settings):
    """An ID token whose nonce is not the one this sign-in sent is refused."""
    provider_user(sso, "mallory", [])
    session = requests.Session()
    callback = callback_address(live_server.url, "mallory", session)
    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(
        session.cookies["sessionid"]
    )
    for state in store["oidc_states"].values():
        state["nonce"] = "not-the-one-sent"
    store.save()

    page = follow(session, callback)

    assert page.status_code == 400 and "could not be verified" in page.text
    assert not User.objects.filter(username="mallory").exists()
    assert signals["in"] == [] and len(signals["failed"]) == 1


def test_token_signed_by_another_key_is_refused(sso, live_server, settings, signals):
    """An ID token that the key labeler trusts did not sign is refused."""
    settings.OIDC_RP_IDP_SIGN_KEY = public_pem(rsa_private_pem())
    provider_user(sso, "trudy", [])

    _, page = sign_in(live_server.url, "trudy")

    assert page.status_code == 400 and "could not be verified" in page.text
    assert not User.objects.filter(username="trudy").exists()
    assert len(signals["failed"]) == 1


def test_provider_down_gives_a_clear_page(sso, live_server, settings, signals):
    """A provider that does not answer, before or during the sign-in, gives a 502 page."""
    provider_user(sso, "oscar", [])
    session = requests.Session()
    callback = callback_address(live_server.url, "oscar", session)
    settings.OIDC_OP_TOKEN_ENDPOINT = "http://127.0.0.1:9/o/token/"  # nothing listens there

    page = follow(session, callback)

    assert page.status_code == 502 and "cannot be reached" in page.text
    assert len(signals["failed"]) == 1
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9/o"
    page = requests.get(f"{live_server.url}/sso/login/", timeout=20)
    assert page.status_code == 502 and "cannot be reached" in page.text


def test_sso_pages_absent_when_not_configured(live_server):
    """Without configuration, the login page is the local one and the SSO routes are 404."""
    page = requests.get(f"{live_server.url}/login/", timeout=20)
    assert page.status_code == 200 and "Sign in with" not in page.text
    for route in ("/sso/login/", "/sso/callback/?code=x&state=y"):
        assert requests.get(f"{live_server.url}{route}", timeout=20).status_code == 404


def test_deactivated_account_is_refused(sso, live_server, signals):
    """A deactivated account stays out, however the provider vouches for it."""
    provider_user(sso, "ivan", [])
    sign_in(live_server.url, "ivan")
    User.objects.filter(username="ivan").update(is_active=False)

    _, page = sign_in(live_server.url, "ivan")

    assert page.status_code == 403 and "deactivated" in page.text
    assert signals["in"] == ["ivan"] and len(signals["failed"]) == 1


def test_the_test_provider_changes_its_users_only_for_the_key_it_was_started_with(
    oidc_provider,
):
    """The provider's seed view (test support) refuses a request without its key, and
    nothing changes there: the user asked for cannot sign in until seeded with the key."""
    user = {"username": "seed-key-probe", "password": PASSWORD, "groups": ["admins"]}
    for headers in ({}, {KEY_HEADER: "not-the-key"}):
        answer = requests.post(
            f"{oidc_provider.url}/test-seed/", json={"users": [user]}, headers=headers, timeout=10
        )
        assert answer.status_code == 403, answer.text
    session = requests.Session()
    form = follow(session, f"{oidc_provider.issuer}/authorize/?client_id=none")
    refused = provider_login(session, form, "seed-key-probe")
    assert refused.status_code == 200 and "provider_sessionid" not in session.cookies

    provider_user(oidc_provider, "seed-key-probe", ["admins"])  # with the key: the same login works
    form = follow(session, f"{oidc_provider.issuer}/authorize/?client_id=none")
    assert provider_login(session, form, "seed-key-probe").status_code == 302
