"""One filter set, everywhere: a key it does not know is a 400 naming it, and nothing changes;
a filter it knows applies alike on every route (each registered filter has an example).

The routes are found, not listed: every API operation whose parameters hold an image filter
or a ``filter`` query (from the OpenAPI schema), every operation whose body takes a
``selection`` with each bulk action of the registry, and every page whose view reads the
image filters (from the URLconf). A route added later is walked here by itself.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape
from drf_spectacular.generators import SchemaGenerator

from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabel, FinalLabelMethod, ImageReservation, LabelChange
from labeler.browse.filters import FILTERS, images_filtered
from labeler.bulk.actions import ACTIONS
from labeler.bulk.models import BulkAction
from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import image_describe
from labeler.images.models import Image
from labeler.predictions.models import SplitAssignment
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


# A value of every registered filter (a filter without one fails the test by name), each
# holding for some of the world's images but not all: a route that passed it over would
# answer with every image.
EXAMPLES = {
    "status": "not_started",
    "final_label": "cat",
    "final_method": "adjudicated",
    "annotator": "ann1",
    "label": "cat",
    "labels_min": "1",
    "labels_max": "0",
    "agreement": "unanimous",
    "confidence_min": "0.99",
    "confidence_max": "0.5",
    "predicted": "dog",
    "model_confidence_min": "0.5",
    "model_confidence_max": "0.5",
    "model_disagrees": "true",
    "suggestion": "shown",
    "uploaded_after": "2001-01-01",
    "uploaded_before": "2001-01-01",
    "name": "img1",
    "has_duplicates": "true",
    "duplicate_group": "{first}",
    "likely_wrong": "true",
    "test_split": "test",
    "captured_after": "2024-01-01",
    "captured_before": "2025-01-01",
    "camera": "canon",
    "source": "upload",  # a project's images all uploaded but the one read from a folder
    "origin": "KAGGLE",
    "licence": "cc0-1.0",
    "tag": "night",
    "has_gps": "true",
    "bbox": "48,2,49,3",
    "has_problem": "true",
    "is_complete": "true",
    "sha256": "{sha256}",
    "created_at__gte": "2001-01-01T00:00:00Z",
    "created_at__lte": "2001-01-01T00:00:00Z",
    "field": "site:north",
    "field_min": "age:30",
    "field_max": "age:30",
    "field_contains": "note:blur",
}


def test_every_filter_has_an_example():
    assert set(EXAMPLES) == set(FILTERS)


@pytest.fixture
def described(project, lead, annotator2, images):
    """The world's first image described (metadata, a project's fields, a final label, a
    near-duplicate of the second, in the test split); the third uploaded long ago, from
    a folder, with a problem."""
    first, second, third = images
    annotation_submit(project=project, annotator=annotator2, image_id=first.pk, labels=["cat"])
    image_decide(
        project=project,
        image_id=first.pk,
        labels=["cat"],
        decided_by=lead,
        method=FinalLabelMethod.ADJUDICATED,
    )
    for name, kind in (("site", "choice"), ("age", "number"), ("note", "text")):
        choices = ["north", "south"] if kind == "choice" else None
        field_create(project=project, name=name, kind=kind, choices=choices)
    body = {
        "origin": "Kaggle",
        "camera": "Canon EOS",
        "licence": "CC0-1.0",
        "tags": ["night"],
        "captured_at": "2024-05-01T10:00:00Z",
        "gps": {"latitude": 48.85, "longitude": 2.35},
        "fields": {"site": "north", "age": 30, "note": "blurred"},
    }
    image_describe(image=first, description=description_read(body, fields=project_fields(project)))
    Image.objects.filter(pk__in=[first.pk, second.pk]).update(duplicate_group=first.pk)
    Image.objects.filter(pk=first.pk).update(is_complete=True)
    long_ago = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    Image.objects.filter(pk=third.pk).update(
        created_at=long_ago, problem="truncated", source="folder"
    )
    SplitAssignment.objects.create(image=first, project=project, side="test")
    return {"first": first.pk, "sha256": first.sha256}


def _page_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-image-id="(\d+)"', html)}


class _FormSends(HTMLParser):
    """What the Images page's filter form sends when a filter changes (browse.js's
    submitClean): each named input's value that is not empty (a box only if ticked), a
    select's chosen option, after the field's name where the input names one (data-field);
    a date or number input keeps only a value it can read, as a browser does."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self.inside = False
        self.select: dict[str, str | None] | None = None
        self.chosen: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "filters":
            self.inside = True
        if not self.inside:
            return
        ticked = a.get("type") not in ("checkbox", "radio") or "checked" in a
        if tag == "input" and a.get("name") and ticked:
            self._send(a, a.get("value") or "")
        elif tag == "select":
            self.select, self.chosen = a, None
        elif (
            tag == "option" and self.select is not None and (self.chosen is None or "selected" in a)
        ):
            self.chosen = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select" and self.select is not None:
            self._send(self.select, self.chosen or "")
            self.select = None

    def _send(self, a, value):
        value = value.strip()
        kind = a.get("type")
        if kind == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            value = ""
        if kind == "number" and not re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", value):
            value = ""
        if value:
            named = a.get("data-field")
            self.pairs.append((a["name"], f"{named}:{value}" if named else value))


def _pairs(query: str) -> list[tuple[str, str]]:
    return [(name, value) for name, values in QueryDict(query).lists() for value in values]


def _form_sends(html: str) -> Counter:
    form = _FormSends()
    form.feed(html)
    return Counter(form.pairs)


def test_every_filter_applies_alike_on_every_route(client, project, lead, described):
    """Each filter's example through every route that reads filters (found, as above): the
    images list, the bulk count, a bulk action's selection and the Images page each take
    exactly the images the filter holds for, or, where it holds for none, refuse the
    action: none passes a filter over."""
    api = client_for(lead)
    client.force_login(lead)
    every = set(Image.objects.filter(project=project).values_list("pk", flat=True))
    queries, selections = _query_routes(), _selection_routes()
    pages = [path for path in _page_routes() if "image_id" not in path]
    assert pages == ["projects/<int:project_id>/images/"]
    for name, example in EXAMPLES.items():
        query = urlencode({name: example.format(**described)})
        expected = set(
            images_filtered(project, QueryDict(query), user=lead).values_list("pk", flat=True)
        )
        assert expected != every, f"{name}: the example holds for every image"
        for path, how in queries:
            url = path.replace("{project_pk}", str(project.pk))
            if how == "query":
                listed = api.get(url, QueryDict(query)).json()["results"]
                assert {item["id"] for item in listed} == expected, (name, path)
            else:
                assert api.get(url, {"filter": query}).json() == {"count": len(expected)}, name
        for path in selections:
            url = path.replace("{project_pk}", str(project.pk))
            body = {
                "action": "priority",
                "priority": 7,
                "selection": {"filter": query},
                "expected_count": len(expected),
            }
            answer = api.post(url, body, format="json")
            changed = set(Image.objects.filter(priority=7).values_list("pk", flat=True))
            assert answer.status_code == (200 if expected else 400), (name, answer.content)
            assert changed == expected, (name, path)
            Image.objects.filter(project=project).update(priority=0)
        for path in pages:
            url = "/" + path.replace("<int:project_id>", str(project.pk)) + "?" + query
            html = client.get(url).content.decode()
            assert _page_ids(html) == expected, (name, path)
            # Its form, sent when another filter changes, keeps the filter in the address.
            assert Counter(_pairs(query)) <= _form_sends(html), name
