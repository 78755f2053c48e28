"""The audit trail through the routes ``test_audit`` leaves out: accounts (API, team page,
join page, Django admin), invitations, background exports and every route that hands out
an export's file, reservations, promotions and model downloads.

Each route records exactly one entry of its action, with its actor, address, project,
target and details; a refused request records nothing. The last test fails when an
``Action`` is added with no route test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from labeler.audit.models import Action, AuditEntry
from labeler.audit.selectors import audit_verify
from labeler.exports.links import export_link, link_expiry
from labeler.exports.models import Export
from labeler.predictions import packages
from labeler.predictions.models import ModelPackage, PackageStatus
from labeler.projects.models import Invitation, Membership, Role
from tests.conftest import client_for
from tests.factories import ModelVersionFactory
from tests.labeler.exports.data import labelled_images

pytestmark = pytest.mark.django_db
ADDRESS = "198.51.100.7"
PASSWORD = "a-long-pass-phrase-9"


def only(action: str) -> AuditEntry:
    """The one entry of this action (fails if there are more or none)."""
    entries = list(AuditEntry.objects.filter(action=action))
    assert len(entries) == 1, [(e.action, e.target_text) for e in AuditEntry.objects.all()]
    return entries[0]


def none_of(*actions: str) -> None:
    """No entry of these actions was recorded."""
    found = list(AuditEntry.objects.filter(action__in=actions).values_list("action", flat=True))
    assert found == [], found


def api(user) -> APIClient:
    client = client_for(user)
    client.defaults["REMOTE_ADDR"] = ADDRESS
    return client


def page(user) -> Client:
    """A signed-in browser, as the pages (and their scripts, on the API) are used."""
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)
    return client


def who(entry: AuditEntry) -> tuple:
    return (entry.actor_id, entry.address, entry.project_id)


def target(entry: AuditEntry) -> tuple:
    return (entry.target_type, entry.target_id, entry.target_text)


# ---- accounts --------------------------------------------------------------------------
def test_api_creates_an_account(admin_user, lead):
    body = {"username": "newbie", "password": PASSWORD, "email": "n@example.org", "is_staff": True}
    assert api(lead).post("/api/v1/users/", body, format="json").status_code == 403
    weak = {**body, "password": "123"}
    assert api(admin_user).post("/api/v1/users/", weak, format="json").status_code == 400
    none_of(Action.ACCOUNT_CREATED)
    response = api(admin_user).post("/api/v1/users/", body, format="json")
    assert response.status_code == 201, response.content
    entry = only(Action.ACCOUNT_CREATED)
    assert who(entry) == (admin_user.pk, ADDRESS, None)
    assert target(entry) == ("user", str(response.json()["id"]), "newbie")
    assert entry.details == {"after": {"is_staff": True, "is_superuser": False}}


def test_an_address_an_admin_sets_is_confirmed_by_them(admin_user):
    """An account an admin makes over the API has its address confirmed, by that admin."""
    body = {"username": "newbie", "password": PASSWORD, "email": "n@example.org"}
    response = api(admin_user).post("/api/v1/users/", body, format="json")
    assert response.status_code == 201, response.content
    entry = only(Action.EMAIL_VERIFIED)
    assert who(entry) == (admin_user.pk, ADDRESS, None)
    assert target(entry) == ("user", str(response.json()["id"]), "newbie")
    assert entry.details == {"email": "n@example.org", "how": "admin"}


def test_api_invites_an_account(admin_user):
    url = "/api/v1/users/invite/"
    bad = api(admin_user).post(url, {"username": "x y", "email": "a@b.c"}, format="json")
    assert bad.status_code == 400
    none_of(Action.ACCOUNT_CREATED)
    response = api(admin_user).post(
        url, {"username": "inv", "email": "i@example.org"}, format="json"
    )
    assert response.status_code == 201, response.content
    entry = only(Action.ACCOUNT_CREATED)
    assert who(entry) == (admin_user.pk, ADDRESS, None) and entry.target_text == "inv"


def test_api_deactivates_and_reactivates(admin_user, lead, outsider):
    url = f"/api/v1/users/{outsider.pk}"
    assert api(lead).post(f"{url}/deactivate/").status_code == 403
    own = api(admin_user).post(f"/api/v1/users/{admin_user.pk}/deactivate/")
    assert own.status_code == 400
    none_of(Action.ACCOUNT_ACTIVE_CHANGED)
    assert api(admin_user).post(f"{url}/deactivate/").status_code == 200
    entry = only(Action.ACCOUNT_ACTIVE_CHANGED)
    assert who(entry) == (admin_user.pk, ADDRESS, None)
    assert target(entry) == ("user", str(outsider.pk), "outsider")
    assert entry.details == {"before": True, "after": False}
    assert api(admin_user).post(f"{url}/deactivate/").status_code == 200  # no change
    assert api(admin_user).post(f"{url}/activate/").status_code == 200
    entries = AuditEntry.objects.filter(action=Action.ACCOUNT_ACTIVE_CHANGED)
    assert [e.details for e in entries] == [
        {"before": True, "after": False},
        {"before": False, "after": True},
    ]


def test_team_page_invites_and_deactivates(admin_user, lead, outsider, project):
    form = {
        "action": "invite",
        "username": "paged",
        "email": "p@example.org",
        "project": project.pk,
        "role": "annotator",
    }
    assert page(lead).post("/team/", form).status_code == 403
    deactivate = {"action": "deactivate", "user": outsider.pk}
    assert page(lead).post("/team/", deactivate).status_code == 403
    none_of(Action.ACCOUNT_CREATED, Action.ACCOUNT_ACTIVE_CHANGED)
    client = page(admin_user)
    assert client.post("/team/", form).status_code == 302
    created = only(Action.ACCOUNT_CREATED)
    assert who(created) == (admin_user.pk, ADDRESS, None) and created.target_text == "paged"
    assert created.details == {"after": {"is_staff": False, "is_superuser": False}}
    role = AuditEntry.objects.get(action=Action.ROLE_SET, target_text="paged")
    assert who(role) == (admin_user.pk, ADDRESS, project.pk)
    assert client.post("/team/", deactivate).status_code == 302
    changed = only(Action.ACCOUNT_ACTIVE_CHANGED)
    assert who(changed) == (admin_user.pk, ADDRESS, None)
    assert changed.details == {"before": True, "after": False}


def _link_invitation(project, lead) -> str:
    response = api(lead).post(
        f"/api/v1/projects/{project.pk}/invitations/", {"role": "reviewer"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["link"].split("/join/")[1].rstrip("/")


def test_join_page_creates_an_account(project, lead):
    token = _link_invitation(project, lead)
    client = Client(REMOTE_ADDR=ADDRESS)
    bad = {"username": "joiner", "email": "j@example.org", "password1": "1", "password2": "1"}
    assert client.post(f"/join/{token}/", bad).status_code == 400
    none_of(Action.ACCOUNT_CREATED)
    good = {**bad, "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(f"/join/{token}/", good).status_code == 302
    joiner = User.objects.get(username="joiner")
    created = only(Action.ACCOUNT_CREATED)
    assert who(created) == (joiner.pk, ADDRESS, project.pk)
    assert target(created) == ("user", str(joiner.pk), "joiner")
    invitation = Invitation.objects.get()
    assert created.details == {
        "after": {"is_staff": False, "is_superuser": False},
        "invitation": invitation.pk,
    }
    role = AuditEntry.objects.get(action=Action.ROLE_SET, target_text="joiner")
    assert who(role) == (joiner.pk, ADDRESS, project.pk)
    assert role.details == {"before": None, "after": "reviewer", "invitation": invitation.pk}


def _admin_form(user: User, **changes) -> dict:
    """The Django admin's change form for ``user`` as the page sends it back."""
    joined = timezone.localtime(user.date_joined)
    form = {
        "username": user.username,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": joined.strftime("%H:%M:%S"),
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value != ""}


def test_django_admin_changes_flags_and_activity(admin_user, outsider):
    url = f"/admin/auth/user/{outsider.pk}/change/"
    refused = page(outsider).post(url, _admin_form(outsider, is_staff="on"))
    assert refused.status_code == 302 and "/login/" in refused["Location"]
    none_of(Action.ACCOUNT_FLAGS_CHANGED)
    client = page(admin_user)
    response = client.post(url, _admin_form(outsider, is_staff="on", is_active=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    flags = only(Action.ACCOUNT_FLAGS_CHANGED)
    assert who(flags) == (admin_user.pk, ADDRESS, None)
    assert target(flags) == ("user", str(outsider.pk), "outsider")
    assert flags.details == {"before": {"is_staff": False}, "after": {"is_staff": True}}
    active = only(Action.ACCOUNT_ACTIVE_CHANGED)
    assert who(active) == (admin_user.pk, ADDRESS, None)
    assert active.details == {"before": True, "after": False}


def test_django_admin_adds_an_account(admin_user, outsider):
    url = "/admin/auth/user/add/"
    form = {
        "username": "added",
        "usable_password": "true",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    assert page(admin_user).post(url, {**form, "password2": "other"}).status_code == 200
    assert page(outsider).post(url, form).status_code == 302  # to the admin's login
    none_of(Action.ACCOUNT_CREATED)
    assert page(admin_user).post(url, form).status_code == 302
    added = User.objects.get(username="added")
    entry = only(Action.ACCOUNT_CREATED)
    assert who(entry) == (admin_user.pk, ADDRESS, None)
    assert target(entry) == ("user", str(added.pk), "added")


# ---- invitations -----------------------------------------------------------------------
def test_api_invitation_created_and_revoked(project, lead, annotator):
    url = f"/api/v1/projects/{project.pk}/invitations/"
    assert api(annotator).post(url, {"role": "annotator"}, format="json").status_code == 403
    assert api(lead).post(url, {"role": "boss"}, format="json").status_code == 400
    none_of(Action.INVITATION_CREATED)
    response = api(lead).post(url, {"role": "annotator", "max_uses": 3}, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    created = only(Action.INVITATION_CREATED)
    assert who(created) == (lead.pk, ADDRESS, project.pk)
    assert target(created) == ("invitation", str(pk), "link")
    assert created.details == {"role": "annotator", "email": "", "days": 7, "max_uses": 3}
    token = response.json()["link"].split("/join/")[1].rstrip("/")
    assert token not in str(created.details) + created.target_text
    assert api(annotator).delete(f"{url}{pk}/").status_code == 403
    none_of(Action.INVITATION_REVOKED)
    assert api(lead).delete(f"{url}{pk}/").status_code == 204
    revoked = only(Action.INVITATION_REVOKED)
    assert who(revoked) == (lead.pk, ADDRESS, project.pk)
    assert target(revoked) == ("invitation", str(pk), "link")
    assert revoked.details == {"role": "annotator"}
    assert api(lead).delete(f"{url}{pk}/").status_code in (204, 404)
    assert AuditEntry.objects.filter(action=Action.INVITATION_REVOKED).count() == 1


def test_members_page_invites_by_email_and_revokes(project, lead, annotator):
    url = f"/projects/{project.pk}/members/"
    form = {"action": "invite-email", "email-email": "e@example.org", "email-role": "annotator"}
    form["email-days"] = 30
    assert page(annotator).post(url, form).status_code in (403, 404)
    assert page(lead).post(url, {**form, "email-email": "nope"}).status_code == 400
    none_of(Action.INVITATION_CREATED)
    assert page(lead).post(url, form).status_code == 302
    created = only(Action.INVITATION_CREATED)
    pk = Invitation.objects.get().pk
    assert who(created) == (lead.pk, ADDRESS, project.pk)
    assert target(created) == ("invitation", str(pk), "e@example.org")
    assert created.details == {
        "role": "annotator",
        "email": "e@example.org",
        "days": 30,
        "max_uses": 1,
    }
    revoke = {"action": "revoke-invitation", "invitation": pk}
    assert page(annotator).post(url, revoke).status_code in (403, 404)
    none_of(Action.INVITATION_REVOKED)
    assert page(lead).post(url, revoke).status_code == 302
    revoked = only(Action.INVITATION_REVOKED)
    assert who(revoked) == (lead.pk, ADDRESS, project.pk)
    assert target(revoked) == ("invitation", str(pk), "e@example.org")


# ---- exports ---------------------------------------------------------------------------
@pytest.fixture
def labelled(project, make_images):
    images = make_images(project, 2)
    labelled_images(project, images, ["cat", "dog"])
    return images


def test_background_export_created(project, lead, annotator, labelled):
    url = f"/api/v1/projects/{project.pk}/exports/"
    assert api(annotator).post(url, {"format": "csv"}, format="json").status_code == 403
    assert api(lead).post(url, {"format": "xml"}, format="json").status_code == 400
    none_of(Action.EXPORT_CREATED)
    response = api(lead).post(url, {"format": "csv"}, format="json")
    assert response.status_code == 202, response.content
    entry = only(Action.EXPORT_CREATED)
    assert who(entry) == (lead.pk, ADDRESS, project.pk)
    assert target(entry) == ("export", str(response.json()["id"]), "csv")
    assert entry.details["images"] == 2 and entry.details["options"]["format"] == "csv"
    reused = api(lead).post(url, {"format": "csv"}, format="json")
    assert reused.status_code == 200 and reused.json()["reused"] is True
    assert AuditEntry.objects.filter(action=Action.EXPORT_CREATED).count() == 1


@pytest.mark.parametrize("via", ["token", "page"])
def test_export_file_downloaded(
    project, lead, annotator, labelled, django_capture_on_commit_callbacks, via
):
    """The API's download_url, followed with a token or by the export page's script (its
    session): one entry per download; a refused or early one records nothing."""
    client = api(lead) if via == "token" else page(lead)
    url = f"/api/v1/projects/{project.pk}/exports/"
    queued = client.post(url, {"format": "json", "seed": 1}, content_type="application/json")
    early = client.get(f"/api/v1/exports/{queued.json()['id']}/download/")
    assert early.status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url, {"format": "json"}, content_type="application/json")
    pk = started.json()["id"]
    download_url = client.get(f"/api/v1/exports/{pk}/").json()["download_url"]
    assert api(annotator).get(download_url).status_code == 403
    none_of(Action.EXPORT_DOWNLOADED)
    response = client.get(download_url)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = only(Action.EXPORT_DOWNLOADED)
    assert who(entry) == (lead.pk, ADDRESS, project.pk)
    assert target(entry) == ("export", str(pk), "json")
    size = Export.objects.get(pk=pk).size_bytes
    assert entry.details == {"direct": False, "size_bytes": size} and size > 0


def test_exported_signed_image_link_records_the_original(project, lead, labelled):
    """A signed image address of an export that keeps photos' metadata hands out the
    original: recorded, with the address it went to; a forged address records nothing."""
    project.export_keep_metadata = True
    project.save(update_fields=["export_keep_metadata"])
    image = labelled[0]
    path = export_link(
        project_id=project.pk, image_id=image.pk, user_id=lead.pk, expires=link_expiry(1)
    )
    client = Client(REMOTE_ADDR=ADDRESS)
    assert client.get(path[:-3] + "xyz/").status_code == 404
    none_of(Action.ORIGINAL_DOWNLOADED)
    response = client.get(path)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = only(Action.ORIGINAL_DOWNLOADED)
    assert (entry.address, entry.project_id, entry.target_type) == (ADDRESS, project.pk, "image")
    assert entry.target_id == str(image.pk)


# ---- reservations ----------------------------------------------------------------------
def test_reservations_through_the_bulk_route(project, lead, annotator, make_images):
    images = make_images(project, 3)
    url = f"/api/v1/projects/{project.pk}/images/bulk/"
    body = {
        "action": "reserve",
        "selection": {"ids": [i.pk for i in images]},
        "annotators": ["ann1"],
        "expected_count": 3,
    }
    assert api(annotator).post(url, body, format="json").status_code == 403
    wrong = {**body, "annotators": ["lead"]}
    assert api(lead).post(url, wrong, format="json").status_code == 400
    none_of(Action.RESERVATIONS_CHANGED, Action.BULK_ACTION)
    response = api(lead).post(url, body, format="json")
    assert response.status_code == 200, response.content
    entry = only(Action.RESERVATIONS_CHANGED)
    assert who(entry) == (lead.pk, ADDRESS, project.pk)
    assert entry.details == {"images": 3, "annotator_ids": [annotator.pk]}
    assert only(Action.BULK_ACTION).details["params"] == {"annotators": ["ann1"]}


# ---- erasure ---------------------------------------------------------------------------
def test_images_erased(project, lead, annotator, make_images, django_capture_on_commit_callbacks):
    """An erasure names its report and the images' ids, not the reason (kept in the report,
    which can itself be reached by a later erasure); a refused one records nothing."""
    images = make_images(project, 3)
    url = f"/api/v1/projects/{project.pk}/erasures/"
    body = {"image_ids": [images[0].pk, images[1].pk], "reason": "Ada asked", "expected_count": 2}
    assert api(annotator).post(url, body, format="json").status_code == 403
    assert api(lead).post(url, {"filter": ""}, format="json").status_code == 400
    assert api(lead).post(url, {**body, "dry_run": True}, format="json").status_code == 200
    none_of(Action.IMAGES_ERASED)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(lead).post(url, body, format="json")
    assert response.status_code == 201, response.content
    entry = only(Action.IMAGES_ERASED)
    assert who(entry) == (lead.pk, ADDRESS, project.pk)
    assert (entry.target_type, entry.target_id) == ("erasure", str(response.json()["id"]))
    assert entry.details["images"] == 2
    assert sorted(entry.details["image_ids"]) == sorted([images[0].pk, images[1].pk])
    assert "Ada" not in str(entry.details) and "Ada" not in entry.target_text


# ---- models ----------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["token", "page"])
def test_model_promoted(project, lead, reviewer, django_capture_on_commit_callbacks, via):
    """Promoted over the API, or by the Models page's Promote button (its script posts
    to the same route with the session)."""
    ModelVersionFactory(project=project, version=1)
    new = ModelVersionFactory(project=project, version=2, is_current=False)
    url = f"/api/v1/model-versions/{new.pk}/promote/"
    assert api(reviewer).post(url).status_code == 403
    none_of(Action.MODEL_PROMOTED)
    client = api(lead) if via == "token" else page(lead)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(url, {"note": "better"}, content_type="application/json")
    assert response.status_code == 200, response.content
    entry = only(Action.MODEL_PROMOTED)
    assert who(entry) == (lead.pk, ADDRESS, project.pk)
    assert target(entry) == ("model_version", str(new.pk), "version 2")
    assert entry.details == {"before": 1, "after": 2, "note": "better"}
    assert client.post(url, {}, content_type="application/json").status_code == 200
    assert AuditEntry.objects.filter(action=Action.MODEL_PROMOTED).count() == 1


@pytest.fixture
def packaged(project):
    """A version whose package is ready: a row and a small file of each kind, no training."""
    version = ModelVersionFactory(project=project, version=1, weights="w.pt")
    files = {}
    for kind in packages.FILES:
        path = packages.package_path(version, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{kind} bytes".encode())
        files[kind] = {"name": path.name, "bytes": path.stat().st_size, "sha256": ""}
    ModelPackage.objects.create(model_version=version, status=PackageStatus.READY, files=files)
    return version


def test_model_package_file_downloaded(project, lead, reviewer, packaged):
    url = f"/api/v1/model-versions/{packaged.pk}/package/"
    assert api(reviewer).get(url).status_code == 403
    files = api(lead).get(url).json()["files"]
    onnx = files["onnx"]["url"].removeprefix("http://testserver")
    anonymous = APIClient(REMOTE_ADDR=ADDRESS)
    assert anonymous.get(onnx.replace(f"/{lead.pk}/", f"/{reviewer.pk}/")).status_code == 403
    Membership.objects.filter(project=project, user=reviewer).update(role=Role.LEAD)
    none_of(Action.MODEL_DOWNLOADED)
    response = anonymous.get(onnx)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"onnx bytes"
    entry = only(Action.MODEL_DOWNLOADED)
    assert who(entry) == (lead.pk, ADDRESS, project.pk)
    assert target(entry) == ("model_version", str(packaged.pk), "version 1 onnx")
    assert entry.details == {"file": "onnx"}
    assert audit_verify().ok


# ---- every action has a route test -----------------------------------------------------
# Each action, and the test (in test_audit.py or here) that drives a real route to it.
ROUTE_TESTS = {
    Action.LOGIN: "test_audit.test_page_login_logout_and_failed_login",
    Action.LOGIN_FAILED: "test_audit.test_token_login_and_its_failure",
    Action.LOGOUT: "test_audit.test_page_login_logout_and_failed_login",
    Action.ACCOUNT_CREATED: "test_audit_routes.test_api_creates_an_account",
    Action.ACCOUNT_ACTIVE_CHANGED: "test_audit_routes.test_api_deactivates_and_reactivates",
    Action.ACCOUNT_FLAGS_CHANGED: "test_audit_routes.test_django_admin_changes_flags_and_activity",
    Action.EMAIL_VERIFIED: "test_audit_routes.test_an_address_an_admin_sets_is_confirmed_by_them",
    Action.ROLE_SET: "test_audit.test_member_roles",
    Action.ROLE_REMOVED: "test_audit.test_member_roles",
    Action.INVITATION_CREATED: "test_audit_routes.test_api_invitation_created_and_revoked",
    Action.INVITATION_REVOKED: "test_audit_routes.test_api_invitation_created_and_revoked",
    Action.PROJECT_CREATED: "test_audit.test_project_created_changed_and_deleted",
    Action.PROJECT_SETTINGS_CHANGED: "test_audit.test_project_created_changed_and_deleted",
    Action.PROJECT_DELETED: "test_audit.test_project_created_changed_and_deleted",
    Action.EXPORT_CREATED: "test_audit_routes.test_background_export_created",
    Action.EXPORT_DOWNLOADED: "test_audit_routes.test_export_file_downloaded",
    Action.ORIGINAL_DOWNLOADED: "test_audit.test_original_served_to_a_lead_only",
    Action.IMAGES_DELETED: "test_audit.test_bulk_delete_records_the_action_and_the_deletion",
    Action.IMAGES_ERASED: "test_audit_routes.test_images_erased",
    Action.BULK_ACTION: "test_audit.test_bulk_delete_records_the_action_and_the_deletion",
    Action.RESERVATIONS_CHANGED: "test_audit_routes.test_reservations_through_the_bulk_route",
    Action.MODEL_PROMOTED: "test_audit_routes.test_model_promoted",
    Action.MODEL_DOWNLOADED: "test_audit_routes.test_model_package_file_downloaded",
    Action.TOKEN_ISSUED: "test_audit.test_prediction_tokens_issued_and_revoked",
    Action.TOKEN_REVOKED: "test_audit.test_prediction_tokens_issued_and_revoked",
    Action.ACCESS_REFUSED: "test_audit.test_refused_lead_and_admin_actions_are_recorded",
}
# Recorded by the retention purge (a command), not by a request.
NOT_ROUTED = {Action.AUDIT_PURGED}


def _test_sources(module: str) -> dict[str, str]:
    """The module's test functions' sources, by name."""
    source = (Path(__file__).parent / f"{module}.py").read_text()
    return {
        node.name: ast.get_source_segment(source, node) or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_action_has_a_route_test():
    """Fails when an Action is added with no test that drives a route to it."""
    assert set(ROUTE_TESTS) | NOT_ROUTED == set(Action), (
        "an Action without a route test: add one and name it in ROUTE_TESTS"
    )
    sources = {module: _test_sources(module) for module in ("test_audit", "test_audit_routes")}
    for action, named in ROUTE_TESTS.items():
        module, test = named.split(".")
        assert test in sources[module], f"{action}: {named} is not a test"
        assert f"Action.{Action(action).name}" in sources[module][test], (
            f"{named} does not check {action}"
        )
