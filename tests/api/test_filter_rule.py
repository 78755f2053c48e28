"""One filter set, everywhere: a key it does not know is a 400 naming it, and nothing changes.

The routes are found, not listed: every API operation whose parameters hold an image filter
or a ``filter`` query (from the OpenAPI schema), every operation whose body takes a
``selection`` with each bulk action of the registry, and every page whose view reads the
image filters (from the URLconf). A route added later is walked here by itself.
"""

from __future__ import annotations

import inspect
import re
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape
from drf_spectacular.generators import SchemaGenerator

from labeler.annotations.models import FinalLabel, ImageReservation, LabelChange
from labeler.browse.filters import FILTERS
from labeler.bulk.actions import ACTIONS
from labeler.bulk.models import BulkAction
from labeler.images.models import Image
from tests.conftest import client_for
from tests.factories import annotation_submit
from tests.rows import row_counts

pytestmark = pytest.mark.django_db
# A made-up key, and a typo of every filter (its last letter doubled).
BAD_KEYS = ["colour", *(f"{name}{name[-1]}" for name in FILTERS)]


def test_each_typo_is_no_filter():
    assert not set(BAD_KEYS) & set(FILTERS) and len(set(BAD_KEYS)) == len(BAD_KEYS)


def _operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation, schema


def _query_routes():
    """API operations that read image filters from their query: (path, how the bad key goes)."""
    routes = []
    for path, method, operation, _ in _operations():
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if method == "get" and set(FILTERS) <= names:  # browse_parameters(): all of them
            routes.append((path, "query"))
        elif method == "get" and "filter" in names:
            routes.append((path, "filter"))
    return routes


def _selection_routes():
    """API operations whose JSON body takes a selection (the bulk actions)."""
    routes = []
    for path, method, operation, schema in _operations():
        content = operation.get("requestBody", {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        if method == "post" and "selection" in component.get("properties", {}):
            routes.append(path)
    return routes


def _page_routes(patterns=None, prefix=""):
    """Page routes whose view calls the data browser's images_filtered."""
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            found += _page_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = inspect.unwrap(entry.callback)
            code = getattr(view, "__code__", None)
            if code is not None and "images_filtered" in code.co_names:
                found.append(prefix + str(entry.pattern))
    return found


def test_the_walk_finds_every_known_route():
    assert ("/api/v1/projects/{project_pk}/images/", "query") in _query_routes()
    assert ("/api/v1/projects/{project_pk}/images/bulk/", "filter") in _query_routes()
    assert _selection_routes() == ["/api/v1/projects/{project_pk}/images/bulk/"]
    assert len(_page_routes()) >= 2  # the Images page and an image's page


@pytest.fixture
def images(project, annotator, make_images):
    images = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    return images


def stored():
    return {
        **row_counts(),
        "reservations": ImageReservation.objects.count(),
        "history": LabelChange.objects.count(),
        "bulk actions": BulkAction.objects.count(),
        "gold": FinalLabel.objects.filter(method="gold").count(),
        "priorities": sorted(Image.objects.values_list("priority", flat=True)),
    }


def _refused_naming(response, key):
    assert response.status_code == 400, (key, response.status_code, response.content[:300])
    body = response.json()
    assert key in body["errors"] and key in body["detail"], body


@pytest.mark.parametrize(("path", "how"), _query_routes())
def test_an_unknown_filter_key_is_a_400_naming_it_on_every_api_route(
    project, lead, images, path, how
):
    url = path.replace("{project_pk}", str(project.pk))
    for key in BAD_KEYS:
        query = {key: "x"} if how == "query" else {"filter": urlencode({key: "x"})}
        _refused_naming(client_for(lead).get(url, query), key)


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("path", _selection_routes())
def test_an_unknown_filter_key_in_a_selection_is_a_400_and_changes_nothing(
    project, lead, images, path, action
):
    url = path.replace("{project_pk}", str(project.pk))
    params = {"relabel": {}, "gold": {"gold": False}, "priority": {"priority": 1}}
    params |= {"reserve": {"annotators": []}, "review": {}, "delete": {}, "export": {}}
    before = stored()
    for key in BAD_KEYS:
        body = {
            "action": action,
            "selection": {"filter": f"status=not_started&{key}=x"},
            "expected_count": 2,
            **params.get(action, {}),
        }
        _refused_naming(client_for(lead).post(url, body, format="json"), key)
    assert stored() == before


@pytest.mark.parametrize("path", _page_routes())
def test_an_unknown_filter_key_is_a_400_naming_it_on_every_page(
    client, project, lead, images, path
):
    client.force_login(lead)
    values = {"project_id": project.pk, "image_id": images[0].pk}
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), path)
    assert client.get(url).status_code == 200
    for key in BAD_KEYS:
        response = client.get(url, {key: "x"})
        assert response.status_code == 400, (key, response.status_code)
        assert escape(repr(key)) in response.content.decode()
