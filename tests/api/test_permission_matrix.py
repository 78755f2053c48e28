"""Every route of the URL conf x every role x every method, each answered as its rule says.

The routes come from ``get_resolver()``, not from a list kept by hand: a route without a rule
in ``RULES`` fails the test by name, and so does a rule whose route is gone. Each request runs
in a transaction that is rolled back, so one world serves every case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabelMethod
from labeler.bulk.models import BulkAction
from labeler.erasure.models import Erasure
from labeler.exports.models import Export
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.delivery.links import file_link
from labeler.images.models import FaceRegion
from labeler.predictions import packages
from labeler.predictions.models import TrainingRun
from labeler.projects.models import Invitation, Role
from labeler.references.models import Reference
from labeler.serving.models import PredictionJob
from labeler.serving.tokens import predict_token_issue
from tests.api.test_permissions import ROLES
from tests.conftest import client_for
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    skip_create,
    webhook_of,
)

METHODS = ["get", "post", "put", "patch", "delete"]
OK = "ok"  # anything but 401/403/404/405 and 5xx: the role gets through to the view
LOGIN = "login"  # a page: redirected to the login page
ADMIN_LOGIN = "admin-login"  # the admin site: redirected to its own login page

Expect = dict[str, int | str]


def everyone(ok: int | str = OK) -> Expect:
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:], ok)}


def members(ok: int | str = OK) -> Expect:
    return {**everyone(ok), "stranger": 404}


def overseers(ok: int | str = OK) -> Expect:
    return {**members(ok), "annotator": 403}


def managers(ok: int | str = OK) -> Expect:
    return {**members(ok), "annotator": 403, "reviewer": 403}


def admins(ok: int | str = OK) -> Expect:
    return {"anonymous": 401, **dict.fromkeys(ROLES[1:-1], 403), "admin": ok}


def public(ok: int | str = OK) -> Expect:
    return dict.fromkeys(ROLES, ok)


def page(api_rule: Expect) -> Expect:
    """The same rule for a page: the anonymous caller is sent to log in instead of a 401."""
    return {**api_rule, "anonymous": LOGIN}


def staff_site() -> Expect:
    return {**dict.fromkeys(ROLES[:-1], ADMIN_LOGIN), "admin": OK}


@dataclass
class Rule:
    """Who may call a route, per method offered; other methods answer 405 to those let in.

    ``methods`` is needed only where the view does not say which it offers (a function view
    without ``require_http_methods``); ``ids`` picks the world's objects for the path.
    """

    expect: dict[str, Expect]
    methods: list[str] | None = None
    ids: dict[str, str] = field(default_factory=dict)
    other: Expect | None = None  # what methods not offered answer, where not the default


def read(rule: Expect, **kwargs: Any) -> Rule:
    return Rule({"get": rule}, **kwargs)


def write(rule: Expect, **kwargs: Any) -> Rule:
    return Rule({"post": rule}, **kwargs)


OWN_ANNOTATION = {"pk": "theirs"}
RULES: dict[str, Rule] = {
    # Pages.
    "home": read(public()),  # anonymous callers see the landing page with a login link
    # Logged-in callers are sent on from the login page whatever the method.
    "login": Rule(
        {"get": public(), "post": public(), "put": public()},
        other={**public(), "anonymous": 405},
    ),
    "logout": Rule({"post": dict.fromkeys(ROLES, LOGIN)}, other=public(405)),
    "project-new": Rule({"get": page(admins()), "post": page(admins())}),
    "project-detail": read(page(members())),
    "project-edit": Rule({"get": page(managers()), "post": page(managers())}),
    "project-members": Rule({"get": page(managers()), "post": page(managers())}),
    "project-fields": Rule({"get": page(managers()), "post": page(managers())}),
    "project-upload": read(page(managers())),
    "project-export": read(page(managers())),
    "label": read(page(members())),
    # The data browser: every annotator's labels on show, so annotators (labelling blind)
    # are refused.
    "images-browse": read(page(overseers())),
    "image-page": read(page(overseers())),
    "duplicates": read(page(overseers())),
    "project-import": Rule({"get": page(managers()), "post": page(managers())}),
    "project-throughput": read(page(managers())),
    "project-erasures": read(page(managers())),
    # The audit trail: a project's for its leads, the whole server's for admins.
    "project-audit": read(page(managers())),
    "audit": read(page(admins())),
    # Single sign-on's two addresses: not found while no provider is configured (these
    # tests; tests/labeler/sso/ walks them with one).
    "oidc_authentication_init": read(public(404)),
    "oidc_authentication_callback": read(public(404)),
    # A lead lets a failed or paused annotator go on (the dashboard's form posts here).
    "standing-action": write(page(managers()), ids={"user_id": "annotator"}),
    # Accounts are the admins' alone.
    "team": Rule({"get": page(admins()), "post": page(admins())}),
    # Forgotten passwords: open to anyone, logged in or not.
    "password-reset": Rule({"get": public(), "post": public(), "put": public()}),
    "password-reset-done": read(public()),
    # A link that is not valid shows its "link not valid" page to any method (Django's
    # view answers before it looks at the method).
    "password-reset-confirm": Rule(
        {"get": public(), "post": public(), "put": public()}, other=public()
    ),
    "password-reset-complete": read(public()),
    # Confirming one's address: the page for whoever is signed in; the link mailed to it
    # signed in (the anonymous caller is sent to log in; a link that is not valid is said
    # so, to anyone signed in).
    "email-address": Rule({"get": page(everyone()), "post": page(everyone())}),
    "email-confirm": Rule({"get": page(public()), "post": page(public())}),
    # Joining by an invitation: open to anyone; a link no invitation has is a 404 to all.
    "join": Rule({"get": public(404), "post": public(404)}),
    "agreement-dashboard": read(page(overseers())),
    "review": read(page(overseers())),
    "models": read(page(overseers())),
    # The slice report names annotators and their agreement: annotators are refused.
    "slices": read(page(overseers())),
    "machine-review": read(page(overseers())),
    # Each role asks with an address made for its own user (the anonymous caller with the
    # annotator's): logged in and a member of the image's project, or staff.
    "image-file-link": read({**public(), "anonymous": 403, "stranger": 403}),
    # An exported image's signed address needs no login: the address is the permission,
    # so one that is wrong is not found, whoever asks (tests/labeler/exports/test_links.py).
    "export-image-link": read(public(404)),
    "healthz": read(public()),
    # The admin site's views take any method; GET and POST are what they serve.
    "admin:*": Rule({"get": staff_site(), "post": staff_site()}, methods=["get", "post"]),
    # Labels are looked at in the admin, never written there (the history would miss it).
    **{
        f"admin:annotations_{model}_{view}": Rule(
            {"get": get, "post": {**staff_site(), "admin": 403}}, methods=["get", "post"]
        )
        for model in ("annotation", "finallabel")
        for view, get in (
            ("add", {**staff_site(), "admin": 403}),
            ("delete", {**staff_site(), "admin": 403}),
            ("change", staff_site()),
        )
    },
    # Leases are written by the queue's gate only: never added or changed in the admin.
    **{
        f"admin:annotations_assignment_{view}": Rule(
            {"get": get, "post": {**staff_site(), "admin": 403}}, methods=["get", "post"]
        )
        for view, get in (("add", {**staff_site(), "admin": 403}), ("change", staff_site()))
    },
    # Images come from uploads and imports, which check and decode them: none added here.
    "admin:images_image_add": Rule(
        {"get": {**staff_site(), "admin": 403}, "post": {**staff_site(), "admin": 403}},
        methods=["get", "post"],
    ),
    # Projects change through their pages and the API (what follows a change, the lead
    # kept): the admin shows them, adds none and changes none.
    "admin:projects_project_add": Rule(
        {"get": {**staff_site(), "admin": 403}, "post": {**staff_site(), "admin": 403}},
        methods=["get", "post"],
    ),
    "admin:projects_project_change": Rule(
        {"get": staff_site(), "post": {**staff_site(), "admin": 403}}, methods=["get", "post"]
    ),
    # What a sign-in through the provider wrote is shown and deleted, never added or edited.
    **{
        f"admin:sso_{model}_{view}": Rule(
            {"get": get, "post": {**staff_site(), "admin": 403}}, methods=["get", "post"]
        )
        for model in ("oidcidentity", "rolegrant")
        for view, get in (("add", {**staff_site(), "admin": 403}), ("change", staff_site()))
    },
    "admin:login": Rule({"get": public(), "post": public()}, methods=["get", "post"]),
    "admin:logout": Rule({"post": {**public(), "admin": LOGIN}}, methods=["post"]),
    "admin:password_change_done": read(staff_site(), methods=["get"]),
    "admin:jsi18n": read(staff_site(), methods=["get"]),
    # Without a model and field to complete, staff are refused too.
    "admin:autocomplete": read({**staff_site(), "admin": 403}, methods=["get"]),
    # The site's object links: a model without its own page has none (404 for staff).
    "admin:view_on_site": read({**staff_site(), "admin": 404}, methods=["get"]),
    # Any other address under /admin/ is not found, for staff too.
    "admin:admin/(?P<url>.*)$": Rule(
        {"get": {**staff_site(), "admin": 404}, "post": {**staff_site(), "admin": 404}},
        methods=["get", "post"],
    ),
    # The browsable API's login pages.
    "rest_framework:login": Rule({"get": public(), "post": public(), "put": public()}),
    "rest_framework:logout": Rule({"post": dict.fromkeys(ROLES, LOGIN)}, other=public(405)),
    # The REST API.
    "api:api-root": read(everyone()),
    "api:schema": read(public()),
    "api:docs": read(public()),
    "api:redoc": read(public()),
    "api:token": write(public()),
    "api:project-list": Rule({"get": everyone(), "post": admins()}),
    "api:project-detail": Rule(
        {
            "get": members(),
            "put": managers(),
            "patch": managers(),
            "delete": managers(),
        },
        ids={"pk": "project"},
    ),
    # Staff only, checked before the method is looked at.
    "api:user-list": Rule({"get": admins(), "post": admins()}, other=admins(405)),
    "api:user-me": read(everyone()),
    "api:user-send-confirmation": write(everyone()),
    "api:user-detail": read(admins(), ids={"pk": "annotator"}, other=admins(405)),
    "api:user-invite": write(admins(), other=admins(405)),
    **{
        f"api:user-{action}": write(admins(), ids={"pk": "annotator"}, other=admins(405))
        for action in ("send-invitation", "send-password-reset", "deactivate", "activate")
    },
    "api:member-list": Rule({"get": managers(), "post": managers()}),
    "api:member-detail": Rule(
        {"get": managers(), "patch": managers(), "delete": managers()},
        ids={"user": "annotator2"},
    ),
    "api:member-link": write(managers(), ids={"user": "annotator2"}),
    "api:invitation-list": Rule({"get": managers(), "post": managers()}),
    "api:invitation-detail": Rule({"delete": managers()}, ids={"pk": "invitation"}),
    "api:image-list": Rule({"get": members(), "post": managers()}),
    "api:metadata-field-list": Rule({"get": overseers(), "post": managers()}),
    "api:metadata-field-detail": Rule(
        {"get": overseers(), "patch": managers(), "delete": managers()}, ids={"pk": "field"}
    ),
    "api:image-detail": Rule({"get": members(), "patch": managers()}, ids={"pk": "image"}),
    "api:image-metadata": write(managers()),
    "api:image-file": read(members(), ids={"pk": "image"}),
    "api:image-thumbnail": read(members(), ids={"pk": "image"}),
    "api:annotation-list": Rule({"get": members(), "post": members()}),
    "api:annotation-detail": Rule(
        {"get": members(), "delete": {**members(404), "annotator": OK}},
        ids={"pk": "mine"},
    ),
    "api:skip-list": Rule({"get": members(), "post": members()}),
    "api:skip-detail": Rule(
        {"get": members(), "delete": {**members(404), "annotator": OK}}, ids={"pk": "my_skip"}
    ),
    "api:next-image": read(members()),
    "api:next-page": read(members()),
    "api:imports": write(managers()),
    "api:imports-archive": write(managers()),
    "api:references": Rule({"get": managers(), "post": managers()}),
    "api:reference-detail": read(managers(), ids={"pk": "reference"}),
    "api:export": read(managers()),
    "api:export-list": Rule({"get": managers(), "post": managers()}),
    "api:export-detail": Rule({"get": managers(), "delete": managers()}, ids={"pk": "export"}),
    "api:export-download": read(managers(), ids={"pk": "export"}),
    "api:images-bulk": Rule({"get": managers(), "post": managers()}),
    "api:bulk-actions": read(managers()),
    "api:bulk-action-detail": read(managers(), ids={"pk": "bulk_action"}),
    "api:audit": read(admins(), other=admins(405)),
    "api:project-audit": read(managers()),
    "api:erasures": Rule({"get": managers(), "post": managers()}),
    "api:erasure-detail": read(managers(), ids={"pk": "erasure"}),
    "api:progress": read(members()),
    "api:throughput": read(managers()),
    "api:history": read(members()),
    "api:agreement": read(overseers()),
    "api:consensus": read(overseers()),
    "api:slices": read(overseers()),
    "api:slices-download": read(overseers()),
    "api:suggestion-sway": read(overseers()),
    "api:standing-list": read(overseers()),
    "api:standing-action": write(managers(), ids={"user_pk": "annotator"}),
    "api:duplicates": read(overseers()),
    "api:label-issues": read(overseers()),
    "api:review": read(overseers()),
    "api:review-detail": read(overseers()),
    "api:decisions": Rule({"get": overseers(), "post": overseers()}),
    "api:decisions-batch": write(overseers()),
    "api:decision-detail": Rule({"delete": managers()}),
    "api:train": write(managers()),
    "api:training-runs": read(overseers()),
    "api:training-run": read(overseers(), ids={"pk": "run"}),
    "api:training-run-cancel": write(managers(), ids={"pk": "run"}),
    "api:model-versions": read(overseers()),
    "api:model-version": read(overseers(), ids={"pk": "version"}),
    "api:model-version-promote": write(managers(), ids={"pk": "version"}),
    "api:prelabel": write(managers()),
    "api:predictions": read(overseers()),
    "api:image-predictions": read(overseers()),
    "api:label-history": read(overseers()),
    "api:image-history": read(overseers()),
    "api:image-explanation": read(overseers()),
    # The face boxes blurred in an image's copies: the leads' alone, reading them too.
    "api:image-faces": Rule({"get": managers(), "post": managers()}),
    "api:image-faces-detect": write(managers()),
    "api:image-face": Rule({"delete": managers()}, ids={"pk": "face"}),
    "api:machine-labels": read(overseers()),
    "api:machine-labels-send": write(overseers()),
    "api:machine-labels-review": write(overseers()),
    "api:machine-labels-stats": read(overseers()),
    # Drift: reviewers and leads read the checks, leads run one.
    "api:drift-checks": Rule({"get": overseers(), "post": managers()}),
    # A model version's download package: the leads' alone, reading it too.
    "api:model-package": Rule({"get": managers(), "post": managers()}, ids={"pk": "version"}),
    # A package file's signed address needs no login: each role asks with an address made
    # for its own user (the anonymous caller with the annotator's), and only a lead of the
    # version's project, or staff, is sent the file; anyone else's address is refused.
    "api:model-package-file": read({**public(403), "lead": OK, "admin": OK}, other=public(405)),
    # Webhooks are the leads' and admins' alone, the list of events too.
    "api:webhook-list": Rule({"get": managers(), "post": managers()}),
    "api:webhook-detail": Rule(
        {"get": managers(), "patch": managers(), "delete": managers()}, ids={"pk": "webhook"}
    ),
    "api:webhook-deliveries": read(managers(), ids={"pk": "webhook"}),
    "api:webhook-events": read(managers()),
    "api:webhook-ping": write(managers(), ids={"pk": "webhook"}),
    "api:webhook-redeliver": write(managers(), ids={"pk": "webhook", "delivery_pk": "delivery"}),
    "project-webhooks": read(page(managers())),
    # The prediction API: leads and admins (or a prediction token of the project, which
    # no role here holds). Its two routes that a token reaches check who asks in the
    # handler, so a method they do not offer is a 405 to the anonymous caller too.
    "api:predict": write(managers(), other=public(405)),
    "api:predict-job": read(managers(), ids={"job_pk": "predict_job"}, other=public(405)),
    "api:served-predictions": read(managers()),
    "api:predict-tokens": Rule({"get": managers(), "post": managers()}),
    "api:predict-token": Rule({"delete": managers()}, ids={"pk": "predict_token"}),
    "prediction-api": read(page(managers())),
}


@dataclass
class Route:
    name: str  # "namespace:name", or the pattern where the route has no name
    pattern: str
    callback: Callable[..., Any]

    @property
    def rule_key(self) -> str:
        return "admin:*" if self.name.startswith("admin:") and self.name not in RULES else self.name


def routes(patterns: list[Any] | None = None, prefix: str = "", ns: str = "") -> Iterator[Route]:
    """Every route of the URL conf, with its full pattern and namespaced name."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [ns, entry.namespace or ""]))
            yield from routes(entry.url_patterns, pattern, inner)
        elif isinstance(entry, URLPattern):
            name = f"{ns}:{entry.name}" if ns and entry.name else entry.name
            yield Route(name=name or f"{ns}:{pattern}", pattern=pattern, callback=entry.callback)


def offered_methods(route: Route, rule: Rule) -> list[str] | None:
    """The methods the view says it answers, or None where it does not say."""
    view = route.callback
    actions = getattr(view, "actions", None)
    if actions:
        return sorted(m for m in actions if m in METHODS)
    cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
    if cls is not None:
        return [m for m in METHODS if m in cls.http_method_names and hasattr(cls, m)]
    while view is not None:
        for cell in getattr(view, "__closure__", None) or ():
            value = cell.cell_contents
            if (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, str) and v.isupper() for v in value)
            ):
                return [m.lower() for m in value if m.lower() in METHODS]
        view = getattr(view, "__wrapped__", None)
    return rule.methods


def test_every_route_has_a_rule_and_every_rule_a_route():
    """A new endpoint or page without a rule fails here, by name; so does a rule left over."""
    found = list(routes())
    missing = sorted({r.name for r in found if r.rule_key not in RULES})
    assert not missing, f"routes without a rule in RULES: {missing}"
    stale = sorted(set(RULES) - {r.rule_key for r in found})
    assert not stale, f"rules for routes that no longer exist: {stale}"
    for route in found:
        rule = RULES[route.rule_key]
        offered = rule.methods or offered_methods(route, rule)
        assert offered is not None, f"{route.name}: say which methods it offers (Rule.methods)"
        # get implies head; a rule for a method the view refuses would never be exercised.
        assert set(rule.expect) <= set(offered), (route.name, sorted(rule.expect), offered)
        assert set(offered) <= set(rule.expect), (
            f"{route.name} offers {offered} but its rule covers only {sorted(rule.expect)}"
        )


@pytest.fixture
def world(project, lead, annotator, annotator2, outsider, admin_user, make_images):
    """A project with a member in every role and one object of each kind an URL names."""
    reviewer = UserFactory(username="reviewer")
    add_member(project, reviewer, Role.REVIEWER)
    other = ProjectFactory(name="Other")
    add_member(other, outsider, Role.ANNOTATOR)
    image, labelled, skipped = make_images(project, 3)
    theirs, _ = annotation_submit(
        project=project, annotator=annotator2, image_id=image.pk, labels=["dog"]
    )
    mine, _ = annotation_submit(
        project=project, annotator=annotator, image_id=labelled.pk, labels=["cat"]
    )
    image.thumbnail = image.file.name
    image.save(update_fields=["thumbnail"])
    image_decide(
        project=project,
        image_id=image.pk,
        labels=["cat"],
        decided_by=lead,
        method=FinalLabelMethod.ADJUDICATED,
    )
    export = Export.objects.create(project=project, created_by=lead, format="csv")
    reference = Reference.objects.create(project=project, kind="folder", path="/nowhere")
    run = TrainingRun.objects.create(project=project, requested_by=lead)
    version = ModelVersionFactory(project=project, is_current=False)
    webhook, delivery = webhook_of(project, lead)
    ids = {
        "project": project.pk,
        "annotator": annotator.pk,
        "annotator2": annotator2.pk,
        "image": image.pk,
        "theirs": theirs.pk,
        "mine": mine.pk,
        "my_skip": skip_create(project=project, annotator=annotator, image_id=skipped.pk).pk,
        "export": export.pk,
        "bulk_action": BulkAction.objects.create(project=project, action="review").pk,
        "erasure": Erasure.objects.create(project=project, reason="asked").pk,
        "reference": reference.pk,
        "run": run.pk,
        "version": version.pk,
        "invitation": invitation_of(project, lead).pk,
        "field": field_create(project=project, name="site", kind="text").pk,
        "webhook": webhook.pk,
        "delivery": delivery.pk,
        "predict_job": PredictionJob.objects.create(project=project, caller=lead).pk,
        "predict_token": predict_token_issue(project=project, name="ci", created_by=lead).token.pk,
        "face": face_of(image),
    }
    users = {
        "annotator": annotator,
        "stranger": outsider,
        "reviewer": reviewer,
        "lead": lead,
        "admin": admin_user,
    }
    # Signed addresses: each role is sent one made for its own user.
    holders = {**users, "anonymous": annotator}
    package_file = packages.package_path(version, "card_json")
    package_file.parent.mkdir(parents=True, exist_ok=True)
    package_file.write_text("{}")
    links = {
        "image-file-link": {
            role: file_link(image.file.name, user_id=user.pk) for role, user in holders.items()
        },
        "api:model-package-file": {
            role: packages.package_links(version=version, user=user)["card_json"]
            for role, user in holders.items()
        },
    }
    return {"ids": ids, "users": users, "links": links}


def invitation_of(project, by) -> Invitation:
    """An open invitation of the project (its token is not needed: only its id is asked)."""
    return Invitation.objects.create(
        project=project,
        token_hash=f"{project.pk:064d}",
        expires_at=timezone.now() + timedelta(days=1),
        created_by=by,
    )


DEFAULT_IDS = {
    "project_id": "project",
    "project_pk": "project",
    "image_id": "image",
    "id": "annotator",  # the admin's password page of a user
}
FIXED = {
    "format": "json",
    "object_id": "1",
    "content_type_id": "1",
    "url": "nowhere/",
    # A password link that is not valid (a valid one is spent by the first to open it).
    "uidb64": "MQ",
    "token": "not-a-token",
}


def path_of(route: Route, rule: Rule, world: dict[str, Any]) -> str:
    """The route's path with its parameters filled from the world."""
    if route.name in world["links"]:
        return world["links"][route.name]["annotator"]  # the test of every role sends each its own

    def value(name: str) -> str:
        if name in FIXED:
            return FIXED[name]
        if name == "app_label":
            return "projects"
        return str(world["ids"][rule.ids.get(name) or DEFAULT_IDS[name]])

    path = route.pattern.replace("<drf_format_suffix:format>", ".json")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: value(m.group(1)), path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: value(m.group(1)), path)
    path = path.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    return "/" + path


def client_for_role(world: dict[str, Any], role: str, api: bool) -> Client:
    """Token auth for the API, a session for pages (as the browser has)."""
    if role == "anonymous":
        return APIClient()
    user = world["users"][role]
    if api:
        return client_for(user)
    client = Client()
    client.force_login(user)
    return client


def outcome(response: Any) -> int | str:
    status = response.status_code
    if status in (301, 302):
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if location.startswith("/login/"):
            return LOGIN
    if status in (401, 403, 404, 405) or status >= 500:
        return status
    return OK


def not_offered(rule: Rule, role: str, api: bool) -> int | str:
    """A method the view does not offer: 405 to anyone logged in.

    Anonymous callers are refused (401, or sent to log in) before the method is looked at;
    the API checks the project in the handler, after the method.
    """
    if rule.other:
        return rule.other[role]
    first = next(iter(rule.expect.values()))[role]
    if role == "anonymous" and first in (401, LOGIN, ADMIN_LOGIN):
        return first
    return 405


@pytest.mark.slow
def test_every_route_answers_every_role_as_its_rule_says(world, capsys):
    """Routes x roles x methods: who gets through, who is refused and how, and 405 otherwise."""
    wrong = []
    cases = 0
    found = [r for r in routes() if r.rule_key in RULES]
    for route in found:
        rule = RULES[route.rule_key]
        sent = rule.methods or METHODS  # admin views take any method: only theirs are sent
        path = path_of(route, rule, world)
        api = route.name.startswith(("api:", "rest_framework:"))
        cache.clear()
        for role in ROLES:
            client = client_for_role(world, role, api)
            if route.name in world["links"]:
                path = world["links"][route.name][role]
            for method in sent:
                if method in rule.expect:
                    expected = rule.expect[method][role]
                else:
                    expected = not_offered(rule, role, api)
                cases += 1
                try:
                    with transaction.atomic():
                        response = getattr(client, method)(path)
                        transaction.set_rollback(True)
                    got = outcome(response)
                except Exception as exc:  # a 500: report it with the rest
                    got = f"{type(exc).__name__}: {exc}"
                if got != expected:
                    wrong.append(
                        f"{route.name} {method.upper()} {path} as {role}: {got} != {expected}"
                    )
    with capsys.disabled():
        print(
            f"\npermission matrix: {len(found)} routes x {len(ROLES)} roles x {len(METHODS)} "
            f"methods = {cases} requests"
        )
    assert not wrong, "\n".join(wrong)


# Path parameters naming objects that belong to a project (a user for a member).
PROJECT_OBJECTS = {
    *("image", "theirs", "mine", "my_skip", "export", "run", "version", "annotator2"),
    *("invitation", "field", "webhook", "delivery", "predict_job", "predict_token", "face"),
}


def face_of(image: Any) -> int:
    """A face box a lead drew on the image."""
    return FaceRegion.objects.create(
        image_id=image.pk, left=0, top=0, width=1, height=1, source="lead"
    ).pk


@pytest.fixture
def elsewhere(outsider, make_images):
    """One object of each kind of PROJECT_OBJECTS, in another project."""
    other = ProjectFactory(name="Elsewhere", overlap=2)
    owner, second = UserFactory(username="owner"), UserFactory(username="second")
    add_member(other, owner, Role.LEAD)
    add_member(other, second)
    image, skipped = make_images(other, 2)
    webhook, delivery = webhook_of(other, owner)
    answer, _ = annotation_submit(
        project=other, annotator=second, image_id=image.pk, labels=["cat"]
    )
    image_decide(
        project=other, image_id=image.pk, labels=["cat"], decided_by=owner,
        method=FinalLabelMethod.ADJUDICATED,
    )  # fmt: skip
    return {
        "image": image.pk,
        "theirs": answer.pk,
        "mine": answer.pk,
        "my_skip": skip_create(project=other, annotator=second, image_id=skipped.pk).pk,
        "export": Export.objects.create(project=other, created_by=owner, format="csv").pk,
        "run": TrainingRun.objects.create(project=other, requested_by=owner).pk,
        "version": ModelVersionFactory(project=other, is_current=False).pk,
        "annotator2": second.pk,
        "invitation": invitation_of(other, owner).pk,
        "field": field_create(project=other, name="site", kind="text").pk,
        "webhook": webhook.pk,
        "delivery": delivery.pk,
        "predict_job": PredictionJob.objects.create(project=other, caller=owner).pk,
        "predict_token": predict_token_issue(project=other, name="ci", created_by=owner).token.pk,
        "face": face_of(image),
    }


def test_another_projects_objects_are_not_found_through_this_project(world, elsewhere):
    """Every route naming a project and one of its objects, asked by this project's lead
    and an admin with the objects of another project: 404, whatever the method."""
    world = {**world, "ids": {**world["ids"], **elsewhere}}
    wrong, cases = [], 0
    for route in routes():
        rule = RULES.get(route.rule_key)
        params = set(re.findall(r"<(?:\w+:)?(\w+)>", route.pattern))
        named = {rule.ids.get(name) or DEFAULT_IDS.get(name) for name in params} if rule else set()
        if rule is None or not {"project_pk", "project_id"} & params or not named & PROJECT_OBJECTS:
            continue
        path = path_of(route, rule, world)
        for role in ("lead", "admin"):
            client = client_for_role(world, role, api=route.name.startswith("api:"))
            for method in rule.expect:
                cases += 1
                with transaction.atomic():
                    got = outcome(getattr(client, method)(path))
                    transaction.set_rollback(True)
                if got != 404:
                    wrong.append(f"{route.name} {method.upper()} {path} as {role}: {got}")
    assert cases > 20
    assert not wrong, "\n".join(wrong)
