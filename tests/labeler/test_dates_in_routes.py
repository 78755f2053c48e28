"""Every date from outside is read by ``labeler.dates_in`` and kept to years 1000 to 9998.

A date field set to 9999-12-31 was stored, and the slice report and its download then
answered 500 to everyone who could read them. These tests do not trust the wiring: a
source walk finds any other module that parses a date itself; the API's date parameters
and body fields are found in its OpenAPI schema and the pages' date inputs in the pages
the URLconf serves, so a route added later is sent the calendar's edges as it is. Then
every GET route of the URLconf is rendered over images whose dates sit on the accepted
edges, and over a date stored before the years were checked: 2xx or 4xx, never 5xx.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from labeler import dates_in
from labeler.errors import ValidationFailed
from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import images_describe_each
from labeler.images.models import FieldValue, Image
from labeler.projects.models import Role
from tests.ast_parse import ast_parse
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, image_bytes
from tests.labeler.imports.test_archive import zipped
from tests.labeler.test_text_in_routes import api_schema, fill

ROOT = Path(__file__).resolve().parents[2]
# The calendar's edges and a day it does not have: each refused with a 400.
OUTSIDE = ("0001-01-01", "9999-12-31", "10000-01-01", "2024-02-31")
OUTSIDE_MOMENTS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")
INSIDE = ("1000-01-01", "9998-12-31")
REFUSALS = ("is out of range: give a date from 1000-01-01 to 9998-12-31", "is not a date")
DATE_WORDS = re.compile(r"\bdates?\b|ISO 8601|date-time", re.IGNORECASE)


# The rule's owner, and no other parser.

PARSERS = {"fromisoformat", "strptime", "parse_date", "parse_datetime", "parse_time"}


def test_no_module_but_the_owner_parses_a_date():
    """No module of labeler, the API or the workers calls ``fromisoformat``, ``strptime``
    or Django's ``parse_date``/``parse_datetime`` but ``labeler/dates_in.py``: a date
    read anywhere else would skip the years every date from outside keeps to."""
    found = []
    for folder in ("labeler", "api", "worker"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "labeler" / "dates_in.py" or "migrations" in path.parts:
                continue
            tree = ast_parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                name = None
                if isinstance(node, ast.Attribute) and node.attr in PARSERS:
                    name = node.attr
                elif isinstance(node, ast.Name) and node.id in PARSERS:
                    name = node.id
                elif isinstance(node, ast.ImportFrom) and node.module == "django.utils.dateparse":
                    name = "django.utils.dateparse"
                if name:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert found == []


@pytest.mark.parametrize("text", [*OUTSIDE, "2024-5-1", "", "2024-05-01x"])
def test_a_day_outside_the_years_or_the_calendar_is_refused_saying_the_range(text):
    with pytest.raises(ValidationFailed) as refused:
        dates_in.day_read(text, field="visit")
    assert refused.value.message.startswith("visit: ")
    assert "from 1000-01-01 to 9998-12-31" in refused.value.message


@pytest.mark.parametrize("text", [*OUTSIDE, *OUTSIDE_MOMENTS, "9998-12-31T23:00:00-05:00"])
def test_a_moment_outside_the_years_is_refused_in_utc(text):
    with pytest.raises(ValidationFailed, match="1000-01-01 to 9998-12-31"):
        dates_in.moment_read(text, field="captured_at")


def test_the_accepted_edges_are_read_in_utc():
    """The first and last accepted days are taken, a range's end included; a time is
    checked in UTC, a day alone as the day it names."""
    assert dates_in.day_read(" 1000-01-01 ", field="d") == dt.date(1000, 1, 1)
    end = dates_in.moment_read("9998-12-31", field="d", day_end=True)
    assert end == dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    ahead = dt.timezone(dt.timedelta(hours=2))
    start = dates_in.moment_read("1000-01-01", field="d", zone=ahead)
    assert start == dt.datetime(999, 12, 31, 22, tzinfo=dt.UTC)
    with pytest.raises(ValidationFailed):
        dates_in.moment_read("1000-01-01T01:00", field="d", zone=ahead)


# A project with a date field, on which every route is tried.


@pytest.fixture
def world(db, make_images) -> dict[str, Any]:
    """A project with a date field ``visit`` and three images, a lead who is an admin."""
    lead = UserFactory(username="dates-lead", is_staff=True, is_superuser=True)
    annotator = UserFactory(username="dates-annotator")
    project = ProjectFactory(labels=["cat", "dog"], overlap=2)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator, Role.ANNOTATOR)
    images = make_images(project, 3)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    field = field_create(project=project, name="visit", kind="date")
    ids = {
        "project_pk": project.pk, "project_id": project.pk, "image_id": images[0].pk,
        "images": images[0].pk, "pk": images[0].pk, "id": images[0].pk,
        "fields": field.pk, "user_pk": annotator.pk, "user_id": annotator.pk,
    }  # fmt: skip
    return {"lead": lead, "project": project, "images": images, "ids": ids}


def stored_outside() -> list[str]:
    """Dates stored outside the accepted years (none, whatever was sent)."""
    early = dt.datetime(1000, 1, 1, tzinfo=dt.UTC)
    late = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    captured = Image.objects.exclude(captured_at__isnull=True).exclude(
        captured_at__gte=early, captured_at__lt=late
    )
    days = FieldValue.objects.exclude(date__isnull=True).exclude(
        date__gte=dt.date(1000, 1, 1), date__lte=dt.date(9998, 12, 31)
    )
    return [str(image.captured_at) for image in captured] + [str(v.date) for v in days]


def date_parameters(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each query parameter of a GET operation that takes a date: (path, name, the prefix
    its value needs, ``visit:`` for a project field's filter)."""
    found = []
    for path, operations in schema["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] != "query":
                continue
            kind = parameter.get("schema", {}).get("format")
            words = parameter.get("description", "")
            if kind in ("date", "date-time") or DATE_WORDS.search(words):
                prefix = "visit:" if "<field>:" in words else ""
                found.append((path, parameter["name"], prefix))
    return found


def date_body_fields(schema: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Each (method, path, field) of a JSON body that the schema types as a date."""
    components = schema["components"]["schemas"]
    found = set()

    def walk(node: dict[str, Any], where: str, key: tuple[str, str], depth: int = 0) -> None:
        if depth > 8 or node.get("readOnly"):
            return
        if "$ref" in node:
            walk(components[node["$ref"].rsplit("/", 1)[-1]], where, key, depth + 1)
            return
        if node.get("format") in ("date", "date-time"):
            found.add((*key, where))
        for name, child in node.get("properties", {}).items():
            walk(child, f"{where}.{name}".strip("."), key, depth + 1)
        for nested in ("items", "additionalProperties"):
            if isinstance(node.get(nested), dict):
                walk(node[nested], f"{where}[]", key, depth + 1)
        for part in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
            walk(part, where, key, depth + 1)

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if isinstance(operation, dict) and body:
                walk(body["schema"], "", (method, path))
    return found


def body_requests(world: dict[str, Any], value: str) -> dict[tuple[str, str, str], Any]:
    """The JSON body sent for each body field that takes a date (and for a project date
    field's value, which the schema types as any JSON), by (method, path, field)."""
    image = world["images"][1].pk
    return {
        ("patch", "/api/v1/projects/{project_pk}/images/{id}/", "captured_at"):
            {"captured_at": value},
        ("patch", "/api/v1/projects/{project_pk}/images/{id}/", "fields.visit"):
            {"fields": {"visit": value}},
        ("post", "/api/v1/projects/{project_pk}/images/metadata/", "captured_at"):
            {"images": [image], "captured_at": value},
        ("post", "/api/v1/projects/{project_pk}/images/metadata/", "items[].captured_at"):
            {"items": [{"image": image, "captured_at": value}]},
        ("post", "/api/v1/projects/{project_pk}/images/metadata/", "fields.visit"):
            {"images": [image], "fields": {"visit": value}},
    }  # fmt: skip


def refused(response: Any) -> str | None:
    """What is wrong with the answer to a date outside (None: a 400 that says why)."""
    body = response.content.decode(errors="replace")
    if response.status_code != 400:
        return f"{response.status_code}: {body[:300]}"
    if not any(words in body for words in REFUSALS):
        return f"400 without the range: {body[:300]}"
    return None


def test_every_api_route_that_takes_a_date_refuses_the_calendars_edges(world):
    """Each date parameter of the schema, each date of a body, a project field's date, a
    filter nested in a bulk selection and a hand-written cursor: each edge is a 400
    naming the range, nothing is stored, and the accepted edges are taken (2xx)."""
    schema = api_schema()
    client = client_for(world["lead"])
    parameters = date_parameters(schema)
    assert len(parameters) >= 15, parameters
    failures = []
    for path, name, prefix in parameters:
        url = fill(path, world["ids"])
        for value in (*OUTSIDE, *OUTSIDE_MOMENTS):
            if problem := refused(client.get(url, {name: prefix + value})):
                failures.append(f"GET {path}?{name}={value}: {problem}")
        for value in INSIDE:
            answer = client.get(url, {name: prefix + value})
            if answer.status_code != 200:
                failures.append(f"GET {path}?{name}={value}: {answer.status_code}")
    known = set(body_requests(world, ""))
    typed = date_body_fields(schema)
    assert typed <= known, f"a body field that takes a date has no request here: {typed - known}"
    for value in (*OUTSIDE, *OUTSIDE_MOMENTS):
        for (method, path, field), body in body_requests(world, value).items():
            answer = getattr(client, method)(fill(path, world["ids"]), body, format="json")
            if problem := refused(answer):
                failures.append(f"{method.upper()} {path} {field}={value}: {problem}")
        bulk = fill("/api/v1/projects/{project_pk}/images/bulk/", world["ids"])
        answer = client.get(bulk, {"filter": f"captured_after={value}"})
        if problem := refused(answer):
            failures.append(f"bulk filter captured_after={value}: {problem}")
        key = base64.urlsafe_b64encode(json.dumps([0, value, 1]).encode()).decode()
        listing = fill("/api/v1/projects/{project_pk}/images/", world["ids"])
        answer = client.get(listing, {"sort": "created_at", "cursor": key.rstrip("=")})
        if answer.status_code != 400:
            failures.append(f"images cursor {value}: {answer.status_code}")
    for value in INSIDE:
        for (method, path, field), body in body_requests(world, value).items():
            answer = getattr(client, method)(fill(path, world["ids"]), body, format="json")
            if answer.status_code != 200:
                failures.append(f"{method.upper()} {path} {field}={value}: {answer.status_code}")
    assert failures == []
    assert stored_outside() == []


def test_an_imports_dates_outside_the_years_refuse_it_before_any_file(world):
    """A labels file's capture time, a project date field's value and a Label Studio
    annotation's time at the calendar's edges: the import is a 400 naming the record."""
    client = client_for(world["lead"])
    project = world["project"]
    archive = zipped({"new.png": image_bytes(seed=7)}).getvalue()
    before = Image.objects.count()
    for value in OUTSIDE:
        for column in ("captured_at", "field:visit"):
            labels = f"file,label,{column}\nnew.png,cat,{value}\n".encode()
            answer = client.post(
                f"/api/v1/projects/{project.pk}/imports/archive/",
                {
                    "archive": SimpleUploadedFile("data.zip", archive, "application/zip"),
                    "labels_file": SimpleUploadedFile("labels.csv", labels),
                    "labels_format": "csv",
                },
                format="multipart",
            )
            assert refused(answer) is None, (column, value)
        task = [
            {
                "data": {"image": "/data/upload/1/new.png"},
                "annotations": [
                    {
                        "created_at": value,
                        "result": [{"type": "choices", "value": {"choices": ["cat"]}}],
                    }
                ],
            }
        ]
        answer = client.post(
            f"/api/v1/projects/{project.pk}/imports/archive/",
            {
                "archive": SimpleUploadedFile("data.zip", archive, "application/zip"),
                "labels_file": SimpleUploadedFile("labels.json", json.dumps(task).encode()),
                "labels_format": "label-studio",
            },
            format="multipart",
        )
        assert refused(answer) is None, ("label studio", value)
    assert Image.objects.count() == before
    assert stored_outside() == []


# The pages: their date inputs, from the pages the URLconf serves.


def routes(resolver: URLResolver | None = None, prefix: str = "/") -> list[str]:
    """Every route of the URLconf (pages and API, not the admin's), as written there."""
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + str(entry.pattern)
        if route.startswith("/admin/"):
            continue
        if isinstance(entry, URLResolver):
            found += routes(entry, route)
        elif isinstance(entry, URLPattern):
            found.append(route)
    return found


DATE_INPUT = re.compile(r"<input\b[^>]*\btype=\"(?:date|datetime-local)\"[^>]*>")
NAME = re.compile(r"\bname=\"([^\"]+)\"")
DATA_FIELD = re.compile(r"\bdata-field=\"([^\"]*)\"")


def test_every_pages_date_inputs_refuse_the_calendars_edges(world):
    """Each date input of each page the URLconf serves (the Images page's field ranges,
    the throughput, audit and export pages' since and until...) sent each edge, as its
    form sends it: never a 5xx, and nothing stored outside the years."""
    client = Client()
    client.force_login(world["lead"])
    pages = [r for r in routes() if not r.startswith("/api/")]
    failures, inputs = [], 0
    for route in pages:
        path = fill(route, world["ids"])
        page = client.get(path)
        for tag in DATE_INPUT.findall(page.content.decode(errors="replace")):
            name = NAME.search(tag)
            if name is None:
                continue
            prefix = DATA_FIELD.search(tag)
            prefix_text = f"{prefix[1]}:" if prefix and prefix[1] else ""
            inputs += 1
            for value in OUTSIDE:
                answer = client.get(path, {name[1]: prefix_text + value})
                if answer.status_code >= 500:
                    failures.append(f"{route}?{name[1]}={value}: {answer.status_code}")
    assert inputs >= 6, inputs
    assert failures == []
    assert stored_outside() == []


# What reads the dates: every GET route, over dates on the accepted edges.


def describe(world: dict[str, Any], values: list[tuple[str | None, str | None]]) -> None:
    fields = project_fields(world["project"])
    changes = [
        (
            image.pk,
            description_read({"captured_at": taken, "fields": {"visit": day}}, fields=fields),
        )
        for image, (taken, day) in zip(world["images"], values, strict=False)
    ]
    images_describe_each(project=world["project"], changes=changes)


def every_get_answer(world: dict[str, Any]) -> list[str]:
    """Every GET route of the URLconf (pages and API) as the lead: the 5xx answers."""
    api = client_for(world["lead"])
    pages = Client()
    pages.force_login(world["lead"])
    failures = []
    for route in routes():
        path = fill(route, world["ids"])
        client = api if route.startswith("/api/") else pages
        queries = [{}]
        if "slices" in route:
            queries += [{"file": "csv"}, {"file": "json"}]
        for query in queries:
            answer = client.get(path, query)
            if answer.status_code >= 500:
                failures.append(f"{route} {query}: {answer.status_code}")
    return failures


def test_every_page_and_report_reads_dates_on_the_accepted_edges(world):
    """Capture times and a date field's values on the first and last accepted days: every
    GET route, the slice report and its downloads among them, answers below 500."""
    describe(
        world,
        [
            ("1000-01-01T00:00:00Z", "1000-01-01"),
            ("9998-12-31T23:59:59Z", "9998-12-31"),
            ("2024-05-01T10:00:00Z", "2024-05-01"),
        ],
    )
    assert every_get_answer(world) == []


def test_the_slice_report_reads_a_date_stored_before_the_years_were_checked(world):
    """A capture time and a date field's value in December 9999, stored before the years
    were checked: the slice report and its downloads answer 200, not 500."""
    lead = client_for(world["lead"])
    image = world["images"][0]
    Image.objects.filter(pk=image.pk).update(captured_at=dt.datetime(9999, 12, 30, tzinfo=dt.UTC))
    visit = project_fields(world["project"])["visit"]
    FieldValue.objects.create(image=image, field=visit, date=dt.date(9999, 12, 31))
    url = f"/api/v1/projects/{world['project'].pk}/slices/"
    for path, query in (
        (url, {}),
        (url + "download/", {"file": "csv"}),
        (url + "download/", {"file": "json"}),
    ):
        answer = lead.get(path, query)
        assert answer.status_code == 200, (path, query, answer.content[:300])
    assert "9999-12" in lead.get(url).content.decode()
