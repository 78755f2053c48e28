"""Destructive selections have one owner: every route that destroys or withdraws data on a
selection of images (each bulk action of the registry that says ``destroys``, the erasure,
and any added later) reads the selection from its JSON body only and carries the count its
sender saw; a query string is a 400 naming its parameter, no count is a 400, another count
is a 409 with the number that matches now, and nothing changes.

The routes are found, not listed: every operation of the OpenAPI schema whose JSON body
takes a selection (``selection``, or ``image_ids`` / ``filter``). A new one fails here until
its body is described below.
"""

from __future__ import annotations

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from api.selections import SelectionView
from labeler.bulk.actions import ACTIONS
from tests.conftest import client_for
from tests.rows import row_counts

pytestmark = pytest.mark.django_db

# What each selection-taking body needs beside its selection, by the body's schema name:
# one body per destructive action the route runs.
DESTROYING = sorted(name for name, spec in ACTIONS.items() if spec.destroys)
BULK_PARAMS = {"gold": {"gold": True, "labels": ["cat"]}, "reserve": {"annotators": ["ann1"]}}
BODIES = {
    "BulkRequest": {
        name: {
            "action": name,
            "selection": {"filter": "status=not_started"},
            **BULK_PARAMS.get(name, {}),
        }
        for name in DESTROYING
    },
    "ErasureRequest": {
        "erasure": {"filter": {"status": "not_started"}, "reason": "Asked by the person"}
    },
}
SELECTION_KEYS = {"selection", "image_ids", "filter"}


def _selection_operations() -> list[tuple[str, str]]:
    """(path, body schema name) of every operation whose JSON body takes a selection."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            properties = schema["components"]["schemas"].get(name, {}).get("properties", {})
            if SELECTION_KEYS & set(properties):
                assert method == "post", (path, method)
                found.append((path, name.removesuffix("Request")))  # the request's split
    return found


OPERATIONS = _selection_operations()
CASES = [
    pytest.param(path, body, id=f"{path}:{what}")
    for path, name in OPERATIONS
    for what, body in BODIES.get(name, {"unclassified": None}).items()
]


def test_every_destructive_action_and_route_is_walked():
    """The bulk actions that destroy (from the registry) and the erasure are all here."""
    assert {"delete", "relabel"} <= set(DESTROYING)
    assert {name for _, name in OPERATIONS} == set(BODIES), "describe the new route's body"


@pytest.mark.parametrize(("path", "_"), OPERATIONS)
def test_every_selection_route_reads_its_selection_from_the_body_only(path, _):
    """Every route that takes a selection is a SelectionView: its query string is refused."""
    view = resolve(path.replace("{project_pk}", "1")).func.view_class
    assert issubclass(view, SelectionView), view


@pytest.fixture
def three(project, make_images):
    return make_images(project, 3)


def _refused(response, status: int, field: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    data = response.json()
    assert data.get("field") == field or field in str(data), data
    return data


@pytest.mark.parametrize(("path", "body"), CASES)
def test_a_destructive_selection_takes_the_body_only_with_its_count(
    project, lead, three, path, body
):
    """A filter in the query string, no count, or a count that no longer matches: refused,
    nothing changed; the same body with the count the lead saw goes through."""
    assert body is not None, f"{path}: describe its body in BODIES"
    url = path.replace("{project_pk}", str(project.pk))
    client = client_for(lead)
    before = row_counts()
    right = {**body, "expected_count": 3}

    _refused(client.post(f"{url}?filter=tag%3Djunk", right, format="json"), 400, "filter")
    _refused(client.post(f"{url}?tag=junk", right, format="json"), 400, "tag")
    _refused(client.post(url, body, format="json"), 400, "expected_count")
    data = _refused(client.post(url, {**body, "expected_count": 2}, format="json"), 409, "")
    assert (data["expected_count"], data["matched_count"]) == (2, 3), data
    assert "matches 3 images now" in data["detail"], data
    assert row_counts() == before

    answer = client.post(url, right, format="json")
    assert answer.status_code in (200, 201, 202), answer.content[:300]
