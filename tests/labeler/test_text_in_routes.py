"""Every route that takes a string refuses NUL and a lone surrogate: a 400, nothing changed.

The rule's one owner is ``labeler.text_in``, reached through the site's middleware (the
path, query strings, the pages' forms) and the API's content negotiation (every body,
whatever parser a view names). These tests do not trust that wiring: they enumerate the
routes themselves, the API's from its OpenAPI schema (drf-spectacular) and the pages'
from the URLconf and the forms they serve, so that a route added later is covered as it
is. Each string a route documents (a body field in each body type it takes, a query or
path parameter), and a query key it does not know, is sent NUL and a lone surrogate by a
lead of the project who is an admin too (so that requests pass the permission checks),
and every answer must be a 400 that says what is wrong, with every row as it was.

A lone surrogate travels as JSON's ``\\ud800`` escape, and in a query string or a
urlencoded form as its UTF-8 form ``%ED%A0%80`` (bytes that are not UTF-8). Two places
cannot carry one and keep safe text instead, so there any 4xx will do: a path (Django
keeps bytes that are not UTF-8 percent-encoded: the literal text ``%ED%A0%80``) and a
multipart field, sent NUL only (Django makes U+FFFD of such bytes).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.test.client import MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.authtoken.models import Token

from labeler.exports.models import Export
from labeler.images.catalogue.metadata_fields import field_create
from labeler.predictions.models import TrainingRun
from labeler.projects.models import Role
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    skip_create,
    webhook_of,
)

pytestmark = pytest.mark.django_db

# (what is sent, how it reads in JSON, in a URL or a urlencoded form)
UNSAFE = {"NUL": ("a\x00b", "a%00b"), "lone surrogate": ("\ud800", "%ED%A0%80")}
REFUSALS = ("holds the NUL character", "holds a lone surrogate", "bytes are not UTF-8")
BOUNDARY = "text-in-boundary"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture
def world(make_images) -> dict[str, Any]:
    """A project with one object of each kind a path names, and a lead who is an admin."""
    lead = UserFactory(username="text-lead", is_staff=True, is_superuser=True)
    annotator = UserFactory(username="text-annotator")
    project = ProjectFactory(labels=["cat", "dog"], overlap=2)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator, Role.ANNOTATOR)
    images = make_images(project, 3)
    annotation, _ = annotation_submit(
        project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"]
    )
    ids = {
        "project_pk": project.pk, "project_id": project.pk, "image_id": images[0].pk,
        "user_pk": annotator.pk, "user_id": annotator.pk, "user": annotator.pk,
        "annotations": annotation.pk, "images": images[0].pk, "members": annotator.pk,
        "users": annotator.pk, "projects": project.pk, "review": images[0].pk,
        "decisions": images[0].pk,
        "skips": skip_create(project=project, annotator=annotator, image_id=images[1].pk).pk,
        "exports": Export.objects.create(project=project, created_by=lead, format="csv").pk,
        "training-runs": TrainingRun.objects.create(project=project, requested_by=lead).pk,
        "model-versions": ModelVersionFactory(project=project, is_current=False).pk,
        "fields": field_create(project=project, name="site", kind="text").pk,
        "webhooks": webhook_of(project, lead)[0].pk,
    }  # fmt: skip
    token, _ = Token.objects.get_or_create(user=lead)
    return {"lead": lead, "ids": ids, "auth": f"Token {token.key}"}


def rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as stored."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values_list())
        for model in apps.get_models()
        if not model._meta.proxy
    }


PLACEHOLDER = re.compile(r"\{(\w+)\}|<(?:\w+:)?(\w+)>")


def fill(path: str, ids: dict[str, int]) -> str:
    """The path with each ``{name}`` (schema) or ``<conv:name>`` (URLconf) given an id: the
    world's by that name, or by the collection it follows (``/exports/{id}/``)."""

    def one(found: re.Match[str]) -> str:
        before = re.search(r"/([\w-]+)/$", found.string[: found.start()])
        target = ids.get(found[1] or found[2]) or (ids.get(before.group(1)) if before else None)
        return str(target or 1)

    return PLACEHOLDER.sub(one, path)


def refused(response: Any) -> str | None:
    """What is wrong with the answer to unsafe text (None: a 400 that says why)."""
    body = response.content.decode(errors="replace")
    if response.status_code != 400:
        return f"{response.status_code}: {body[:200]}"
    if not any(refusal in body for refusal in REFUSALS):
        return f"400 without saying why: {body[:200]}"
    return None


# The API, from its schema.


def api_schema() -> dict[str, Any]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


def properties(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A body schema's properties, its references and allOf followed."""
    if "$ref" in schema:
        return properties(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    found = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found.update(properties(part, components))
    return found


def takes_text(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return takes_text(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if schema.get("type") == "array":
        return takes_text(schema.get("items", {}), components)
    variants = schema.get("oneOf", []) + schema.get("anyOf", []) + schema.get("allOf", [])
    return schema.get("type") == "string" or any(takes_text(v, components) for v in variants)


def api_requests(path: str, operation: dict[str, Any], components: dict[str, Any]):
    """Each unsafe request for one operation: (what it is, query, content type, body)."""
    for what, (text, escaped) in UNSAFE.items():
        yield f"unknown query key ({what})", f"x{escaped}=1", None, None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and takes_text(parameter["schema"], components):
                yield f"?{parameter['name']} ({what})", f"{parameter['name']}={escaped}", None, None
        content = operation.get("requestBody", {}).get("content", {})
        for media_type, body in content.items():
            for name, schema in properties(body.get("schema", {}), components).items():
                if not takes_text(schema, components) or schema.get("readOnly"):
                    continue
                value: Any = [text] if schema.get("type") == "array" else text
                if media_type == JSON:
                    yield f"{name} in JSON ({what})", "", media_type, json.dumps({name: value})
                elif media_type == FORM:
                    yield f"{name} in a form ({what})", "", media_type, f"{name}={escaped}"
                elif media_type == MULTIPART_CONTENT and what == "NUL":
                    form = encode_multipart(BOUNDARY, {name: value})
                    yield f"{name} in multipart", "", f"{media_type}; boundary={BOUNDARY}", form


def test_every_api_operation_refuses_unsafe_text_in_every_string_it_takes(world):
    schema = api_schema()
    components = schema["components"]["schemas"]
    client = Client(headers={"authorization": world["auth"]})
    before, failures, sent = rows(), [], 0
    for template, item in schema["paths"].items():
        path = fill(template, world["ids"])
        for method, operation in item.items():
            for what, query, media_type, body in api_requests(template, operation, components):
                call = getattr(client, method)
                kwargs = {"content_type": media_type} if media_type else {}
                response = call(f"{path}?{query}" if query else path, body, **kwargs)
                sent += 1
                if problem := refused(response):
                    failures.append(f"{method.upper()} {template} {what}: {problem}")
            if rows() != before:
                failures.append(f"{method.upper()} {template}: rows changed")
                before = rows()
    assert sent > 300
    assert failures == []


def test_every_string_path_parameter_refuses_unsafe_text(world):
    schema = api_schema()
    client = Client(headers={"authorization": world["auth"]})
    before, failures = rows(), []
    for template, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path" or parameter["schema"].get("type") != "string":
                    continue
                for what, (_text, escaped) in UNSAFE.items():
                    path = template.replace(f"{{{parameter['name']}}}", escaped)
                    response = getattr(client, method)(fill(path, world["ids"]))
                    # No route matched (its pattern takes digits only): a 404 says so.
                    if what == "NUL" and response.status_code != 404:
                        if problem := refused(response):
                            failures.append(f"{method.upper()} {path}: {problem}")
                    elif not 400 <= response.status_code < 500:
                        failures.append(f"{method.upper()} {path}: {response.status_code}")
    assert failures == []
    assert rows() == before


# The pages, from the URLconf and the forms they serve.


def page_routes(resolver: URLResolver | None = None, prefix: str = "/") -> list[str]:
    """Every page's route (not the API's nor the admin's), as written in the URLconf."""
    routes = []
    for entry in (resolver or get_resolver()).url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + str(entry.pattern)
        if route.startswith(("/api/", "/admin/")):
            continue
        if isinstance(entry, URLResolver):
            routes += page_routes(entry, route)
        elif isinstance(entry, URLPattern):
            routes.append(route)
    return routes


TEXT_PARAMETER = re.compile(r"<(?:str|path|slug):\w+>")
FIELD = re.compile(r"<(?:input|textarea|select)\b[^>]*\bname=\"([^\"]+)\"")


def test_every_page_refuses_unsafe_text_in_its_query_and_its_forms(world):
    client = Client()
    client.force_login(world["lead"])
    routes = page_routes()
    assert len(routes) > 20
    failures = []
    for route in routes:
        path = fill(route, world["ids"])
        page = client.get(path)  # its forms' fields (a page may note that it was seen)
        names = {"name", *FIELD.findall(page.content.decode(errors="replace"))}
        names.discard("csrfmiddlewaretoken")
        before = rows()
        answers = list(page_answers(client, path, names))
        if TEXT_PARAMETER.search(route):  # a text parameter of the path itself
            text_path = fill(TEXT_PARAMETER.sub("a%00b", route), world["ids"])
            answers.append(("NUL in the path", client.get(text_path)))
        for sent, response in answers:
            if problem := refused(response):
                failures.append(f"{route} {sent}: {problem}")
        if rows() != before:
            failures.append(f"{route}: rows changed")
    assert failures == []


def page_answers(client: Client, path: str, names: set[str]):
    """Each unsafe request for one page, and its answer: (what was sent, the answer)."""
    multipart = f"{MULTIPART_CONTENT}; boundary={BOUNDARY}"
    for what, (text, escaped) in UNSAFE.items():
        yield f"unknown query key ({what})", client.get(f"{path}?x{escaped}=1")
        for name in sorted(names):
            form = f"{name}={escaped}"
            yield f"?{name} ({what})", client.get(f"{path}?{form}")
            yield f"form {name} ({what})", client.post(path, form, FORM)
            yield f"JSON {name} ({what})", client.post(path, json.dumps({name: text}), JSON)
            if what == "NUL":
                yield (
                    f"multipart {name}",
                    client.post(path, encode_multipart(BOUNDARY, {name: text}), multipart),
                )
