"""A prediction token opens the prediction routes of its project and nothing else: every
route of the site (the API's, the pages', the admin's), walked from the URLconf, so a
route added later is covered without naming it here."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from labeler.projects.models import Role
from labeler.serving.tokens import predict_token_issue
from tests.factories import ProjectFactory, add_member

PREDICT_ROUTES = {"api:predict", "api:predict-job"}
METHODS = ("get", "post", "put", "patch", "delete")
GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def routes(resolver: URLResolver | None = None, prefix: str = "", space: str = "") -> list:
    """(path, name) of every route, its parameters given the id 1 (the project's own)."""
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        pattern = str(entry.pattern).lstrip("^").rstrip("$").replace("\\", "")
        if "format" in pattern:
            continue  # DRF's format suffixes: the same views again
        if isinstance(entry, URLResolver):
            inner = f"{space}{entry.namespace}:" if entry.namespace else space
            found += routes(entry, prefix + pattern, inner)
        elif isinstance(entry, URLPattern):
            found.append(("/" + GROUP.sub("1", prefix + pattern), f"{space}{entry.name}"))
    return found


@pytest.mark.django_db
def test_a_prediction_token_is_refused_by_every_route_but_predicting(lead):
    project = ProjectFactory(name="Colours", labels=["red"])
    add_member(project, lead, Role.LEAD)
    key = predict_token_issue(project=project, name="line", created_by=lead).key
    anonymous, holder = Client(), Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    walked = routes()
    assert len(walked) > 100 and any(name == "api:predict" for _, name in walked)
    opened = []
    for path, name in walked:
        path = path.replace("/1/", f"/{project.pk}/")
        if name in PREDICT_ROUTES:
            continue
        for method in METHODS:
            with_token = getattr(holder, method)(path)
            without = getattr(anonymous, method)(path)
            # The token grants nothing a caller without credentials lacks: the API answers
            # 401 or 403 where it needs a caller, the pages send to the login page.
            if with_token.status_code != without.status_code:
                opened.append((method, path, with_token.status_code, without.status_code))
            elif path.startswith("/api/v1/projects/") and with_token.status_code not in (401, 403):
                opened.append((method, path, with_token.status_code, "project route"))
    assert opened == []


@pytest.mark.django_db
def test_the_token_opens_the_prediction_route_of_its_project(lead):
    project = ProjectFactory(name="Colours", labels=["red"])
    add_member(project, lead, Role.LEAD)
    key = predict_token_issue(project=project, name="line", created_by=lead).key
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post(
        f"/api/v1/projects/{project.pk}/predict/"
    )
    assert answer.status_code == 400  # past authentication: no images sent
    assert "at least one image" in answer.json()["detail"]
