"""Every audited action names who did it, whatever authenticated the request.

Each ``Action`` a request can record has a driver here: one request to a real route.
The authentications that route accepts are read from the route itself (``resolve``: a
DRF view's ``authentication_classes``, a page's ``authentication_classes`` if it declares
them, else a session made by each of ``AUTHENTICATION_BACKENDS``: a password or single
sign-on), and the driver is run once with each, every entry it records checked: an
actor (an id, or a name for a credential with no account) and, with a project, its name.
An action added without a driver, or an authentication (a class any route names, a
backend) the test cannot make a client for, fails by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.serving_auth import PredictTokenAuthentication
from labeler.audit.models import Action, AuditEntry
from labeler.exports.links import export_link, link_expiry
from labeler.predictions import packages
from labeler.predictions.models import ModelPackage, PackageStatus
from labeler.projects import invitations
from labeler.projects.models import Role
from labeler.serving import tokens
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@dataclass
class World:
    """A project with a lead, an annotator, an image, an admin and an outsider."""

    project: Any
    lead: Any
    annotator: Any
    admin: Any
    outsider: Any
    image: Any
    made: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Drive:
    """One request that records ``action``, sent as ``who`` (or with no credential)."""

    action: str
    who: str  # "lead", "admin", "annotator" (the credential's holder)
    method: str
    path: Callable[[World], str]
    body: Callable[[World], Any] = lambda w: None
    form: bool = False  # a page's form, else JSON


def _invitation(w: World) -> int:
    made = invitations.invitation_create(
        project=w.project, by=w.lead, base_url="http://testserver", role=Role.ANNOTATOR
    )
    return made.invitation.pk


def _predict_token(w: World) -> int:
    return tokens.predict_token_issue(project=w.project, name="line", created_by=w.lead).token.pk


def _version(w: World) -> Any:
    if "version" not in w.made:
        ModelVersionFactory(project=w.project, version=1)
        w.made["version"] = ModelVersionFactory(project=w.project, version=2, is_current=False)
    return w.made["version"]


def _package_link(w: World) -> str:
    version = _version(w)
    files = {}
    for kind in packages.FILES:
        path = packages.package_path(version, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        files[kind] = {"name": path.name, "bytes": 1, "sha256": ""}
    ModelPackage.objects.create(model_version=version, status=PackageStatus.READY, files=files)
    link = packages.package_links(version=version, user=w.lead)["onnx"]
    return link.removeprefix("http://testserver")


def _file_link(w: World) -> str:
    """The lead's signed address of the image's original, as the API hands it out."""
    client = APIClient()
    client.force_authenticate(w.lead)
    url = client.get(f"/api/v1/projects/{w.project.pk}/images/{w.image.pk}/").json()["file_url"]
    return url.removeprefix("http://testserver")


def _export_link(w: World) -> str:
    w.project.export_keep_metadata = True
    w.project.save(update_fields=["export_keep_metadata"])
    return export_link(
        project_id=w.project.pk, image_id=w.image.pk, user_id=w.lead.pk, expires=link_expiry(1)
    )


def _admin_user_form(w: World) -> dict[str, str]:
    return {
        "username": w.outsider.username,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on",
        "is_staff": "on",
    }


P = "/api/v1/projects"
DRIVES = [
    Drive(Action.LOGIN, "lead", "post", lambda w: "/api/v1/auth/token/",
          lambda w: {"username": "lead", "password": PASSWORD}),
    Drive(Action.LOGIN_FAILED, "lead", "post", lambda w: "/api/v1/auth/token/",
          lambda w: {"username": "lead", "password": "wrong"}),
    Drive(Action.LOGOUT, "lead", "post", lambda w: "/logout/", form=True),
    Drive(Action.ACCOUNT_CREATED, "admin", "post", lambda w: "/api/v1/users/",
          lambda w: {"username": "newbie", "password": "a-long-pass-phrase-9"}),
    Drive(Action.EMAIL_VERIFIED, "admin", "post", lambda w: "/api/v1/users/",
          lambda w: {"username": "newbie", "password": "a-long-pass-phrase-9",
                     "email": "newbie@example.org"}),
    Drive(Action.ACCOUNT_ACTIVE_CHANGED, "admin", "post",
          lambda w: f"/api/v1/users/{w.outsider.pk}/deactivate/"),
    Drive(Action.ACCOUNT_FLAGS_CHANGED, "admin", "post",
          lambda w: f"/admin/auth/user/{w.outsider.pk}/change/", _admin_user_form, form=True),
    Drive(Action.ROLE_SET, "lead", "post", lambda w: f"{P}/{w.project.pk}/members/",
          lambda w: {"user": w.outsider.pk, "role": "annotator"}),
    Drive(Action.ROLE_REMOVED, "lead", "delete",
          lambda w: f"{P}/{w.project.pk}/members/{w.annotator.pk}/"),
    Drive(Action.INVITATION_CREATED, "lead", "post", lambda w: f"{P}/{w.project.pk}/invitations/",
          lambda w: {"role": "annotator"}),
    Drive(Action.INVITATION_REVOKED, "lead", "delete",
          lambda w: f"{P}/{w.project.pk}/invitations/{_invitation(w)}/"),
    Drive(Action.PROJECT_CREATED, "admin", "post", lambda w: f"{P}/",
          lambda w: {"name": "Birds", "labels": ["a", "b"]}),
    Drive(Action.PROJECT_SETTINGS_CHANGED, "lead", "patch", lambda w: f"{P}/{w.project.pk}/",
          lambda w: {"overlap": 3}),
    Drive(Action.PROJECT_DELETED, "admin", "delete", lambda w: f"{P}/{w.project.pk}/"),
    Drive(Action.EXPORT_CREATED, "lead", "post", lambda w: f"{P}/{w.project.pk}/exports/",
          lambda w: {"format": "csv"}),
    Drive(Action.EXPORT_DOWNLOADED, "lead", "get",
          lambda w: f"{P}/{w.project.pk}/export/?format=json"),
    Drive(Action.ORIGINAL_DOWNLOADED, "lead", "get",
          lambda w: f"{P}/{w.project.pk}/images/{w.image.pk}/file/"),
    Drive(Action.ORIGINAL_DOWNLOADED, "lead", "get", _file_link),
    Drive(Action.ORIGINAL_DOWNLOADED, "lead", "get", _export_link),
    Drive(Action.IMAGES_DELETED, "lead", "post", lambda w: f"{P}/{w.project.pk}/images/bulk/",
          lambda w: {"action": "delete", "selection": {"ids": [w.image.pk]}, "expected_count": 1}),
    Drive(Action.BULK_ACTION, "lead", "post", lambda w: f"{P}/{w.project.pk}/images/bulk/",
          lambda w: {"action": "delete", "selection": {"ids": [w.image.pk]}, "expected_count": 1}),
    Drive(Action.IMAGES_ERASED, "lead", "post", lambda w: f"{P}/{w.project.pk}/erasures/",
          lambda w: {"image_ids": [w.image.pk], "reason": "asked", "expected_count": 1}),
    Drive(Action.RESERVATIONS_CHANGED, "lead", "post", lambda w: f"{P}/{w.project.pk}/images/bulk/",
          lambda w: {"action": "reserve", "selection": {"ids": [w.image.pk]},
                     "annotators": [w.annotator.username], "expected_count": 1}),
    Drive(Action.MODEL_PROMOTED, "lead", "post",
          lambda w: f"/api/v1/model-versions/{_version(w).pk}/promote/"),
    Drive(Action.MODEL_DOWNLOADED, "lead", "get", _package_link),
    Drive(Action.TOKEN_ISSUED, "lead", "post", lambda w: f"{P}/{w.project.pk}/predict-tokens/",
          lambda w: {"name": "line 2"}),
    Drive(Action.TOKEN_REVOKED, "lead", "delete",
          lambda w: f"{P}/{w.project.pk}/predict-tokens/{_predict_token(w)}/"),
    Drive(Action.ACCESS_REFUSED, "annotator", "get", lambda w: f"{P}/{w.project.pk}/audit/"),
    Drive(Action.ACCESS_REFUSED, "lead", "get", lambda w: "/api/v1/audit/"),
    Drive(Action.ACCESS_REFUSED, "annotator", "get", lambda w: f"/projects/{w.project.pk}/audit/"),
]  # fmt: skip
# Recorded by the retention purge (a command), not by a request.
NOT_ROUTED = {Action.AUDIT_PURGED}


# ---- the authentications: a client holding each ------------------------------------------
def _session(backend: str) -> Callable[[World, Any], Client]:
    def make(w: World, user: Any) -> Client:
        client = Client()
        client.force_login(user, backend=backend)
        return client

    return make


def _token(w: World, user: Any) -> APIClient:
    client = APIClient()
    key, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key.key}")
    return client


def _predict(w: World, user: Any) -> APIClient:
    issued = tokens.predict_token_issue(project=w.project, name="probe", created_by=w.lead)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    return client


def _none(w: World, user: Any) -> Client:
    return Client()  # the request carries its credential: a signed address, a password


SESSIONS = {
    f"session ({backend})": _session(backend) for backend in settings.AUTHENTICATION_BACKENDS
}
BY_CLASS: dict[Any, list[str]] = {
    TokenAuthentication: ["api token"],
    SessionAuthentication: list(SESSIONS),
    PredictTokenAuthentication: ["prediction token"],
}
CLIENTS: dict[str, Callable[[World, Any], Any]] = {
    **SESSIONS,
    "api token": _token,
    "prediction token": _predict,
    "none": _none,
}


def route_authentications(path: str) -> list[str]:
    """The ways the route behind ``path`` authenticates a caller, read from its view."""
    func = resolve(path.split("?")[0]).func
    view_class = getattr(func, "cls", None)
    classes = getattr(view_class or func, "authentication_classes", None)
    if classes is None:  # a page: Django's session, as each backend logs people in
        return list(SESSIONS)
    if not classes:
        return ["none"]
    kinds = []
    for cls in classes:
        assert cls in BY_CLASS, f"{path}: no client for {cls.__name__}; add one to BY_CLASS"
        kinds += BY_CLASS[cls]
    return kinds


def _views(patterns: list[Any]) -> list[Any]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            found.append(pattern.callback)
    return found


def test_every_authentication_of_every_route_has_a_client():
    """A route that names an authentication class the drivers cannot hold fails here, so a
    new way in is added to the table (and then to every audited route it serves)."""
    named = set()
    for func in _views(get_resolver().url_patterns):
        classes = getattr(getattr(func, "cls", None) or func, "authentication_classes", None)
        named |= set(classes or ())
    assert named <= set(BY_CLASS), named - set(BY_CLASS)


def test_every_action_has_a_driver():
    """Fails when an Action a request can record has no driver here."""
    assert {d.action for d in DRIVES} | NOT_ROUTED == set(Action)


@pytest.fixture
def world(project, lead, annotator, admin_user, outsider, make_images) -> World:
    [image] = make_images(project, 1)
    return World(project, lead, annotator, admin_user, outsider, image)


class _Undone(Exception):
    pass


def _send(client: Any, drive: Drive, path: str, body: Any) -> Any:
    send = getattr(client, drive.method)
    if drive.form:
        response = send(path, body or {})
    else:
        response = send(path, body, content_type="application/json")
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return response


@pytest.mark.parametrize("drive", DRIVES, ids=[f"{d.action}-{i}" for i, d in enumerate(DRIVES)])
def test_every_authentication_names_the_actor(world, drive):
    """Driven once per authentication its route accepts (each in a savepoint undone after):
    the action is recorded, and every entry it records names an actor and, with a project,
    the project's name."""
    user = getattr(world, drive.who)
    kinds: list[str] = []
    try:
        with transaction.atomic():
            kinds = route_authentications(drive.path(world))
            raise _Undone
    except _Undone:
        pass
    for kind in kinds:
        try:
            with transaction.atomic():
                world.made.clear()
                path, body = drive.path(world), drive.body(world)
                client = CLIENTS[kind](world, user)
                before = AuditEntry.objects.count()
                response = _send(client, drive, path, body)
                entries = list(AuditEntry.objects.order_by("sequence")[before:])
                where = f"{drive.method.upper()} {path} with {kind}: {response.status_code}"
                assert drive.action in {e.action for e in entries}, (where, entries)
                for entry in entries:
                    assert entry.actor_id or entry.actor_name, (where, entry.action, "no actor")
                    if entry.project_id is not None:
                        assert entry.project_name, (where, entry.action, "no project name")
                raise _Undone
        except _Undone:
            pass
