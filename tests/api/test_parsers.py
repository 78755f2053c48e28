"""JSON bodies: nested too deep or holding NUL, they are a 400 that says so, on every route."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient
from rest_framework.views import APIView

from api.parsers import MAX_DEPTH, JSONParser
from labeler.exports.models import Export
from labeler.idempotency.models import IdempotentRequest

pytestmark = pytest.mark.django_db
# Deeper than Python's decoder can go (it raised RecursionError, a 500).
BOTTOMLESS = "[" * 1000 + "]" * 1000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def parse(text: str) -> object:
    return JSONParser().parse(io.BytesIO(text.encode()), "application/json")


def test_nesting_up_to_the_limit_is_parsed():
    assert parse(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    assert parse('{"a": ' * MAX_DEPTH + "1" + "}" * MAX_DEPTH)


@pytest.mark.parametrize(
    "text",
    [
        nested(MAX_DEPTH + 1),
        '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
        BOTTOMLESS,
        "[" * 100_000,
    ],
)
def test_nesting_beyond_the_limit_is_a_parse_error(text):
    with pytest.raises(ParseError, match=f"nest more than {MAX_DEPTH} levels"):
        parse(text)


def test_logging_in_with_a_bottomless_body_is_a_400():
    """Anonymous: the token route parses the body before any check of who is asking."""
    response = APIClient().post("/api/v1/auth/token/", BOTTOMLESS, content_type="application/json")
    assert response.status_code == 400, response.content
    assert f"nest more than {MAX_DEPTH} levels" in response.json()["detail"]


@pytest.mark.parametrize("body", [BOTTOMLESS, nested(MAX_DEPTH + 1)])
def test_a_decision_with_a_body_nested_too_deep_is_a_400(api_as, lead, project, body):
    response = api_as(lead).post(
        f"/api/v1/projects/{project.pk}/decisions/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert f"nest more than {MAX_DEPTH} levels" in response.json()["detail"]


def test_an_idempotent_write_with_a_bottomless_body_is_a_400_and_keeps_no_key(
    api_as, annotator, project
):
    """The Idempotency-Key's fingerprint reads the parsed body: it is never reached."""
    response = api_as(annotator).post(
        f"/api/v1/projects/{project.pk}/skips/",
        BOTTOMLESS,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="8e0f3c1a-5d2b-4c7e-9f10-2a3b4c5d6e7f",
    )
    assert response.status_code == 400, response.content
    assert f"nest more than {MAX_DEPTH} levels" in response.json()["detail"]
    assert not IdempotentRequest.objects.exists()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"annotator": "a\x00b"}, "annotator"),
        ({"format": "json", "split": ["0.5", "0.5\x00"]}, "split[1]"),
        ({"a\x00": 1}, "a key of the body"),
    ],
)
def test_an_export_asked_for_with_nul_in_its_options_is_a_400(api_as, lead, project, body, where):
    """PostgreSQL stores no NUL: filtering on it or keeping the options was a 500."""
    response = api_as(lead).post(f"/api/v1/projects/{project.pk}/exports/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"JSON parse error - {where} holds the NUL")
    assert not Export.objects.exists()


def _views(resolver: URLResolver) -> list[type[APIView]]:
    views = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            views += _views(entry)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "cls", None)
            if view is not None and issubclass(view, APIView):
                views.append(view)
    return views


def test_every_api_view_parses_json_with_the_checking_parser():
    """A view that names its parsers must name this one for JSON, not DRF's own."""
    views = _views(get_resolver())
    assert len(views) > 30
    for view in views:
        for parser in view().get_parsers():
            if parser.media_type == "application/json":
                assert isinstance(parser, JSONParser), view
