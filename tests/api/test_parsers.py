"""Bodies: nested too deep, or text holding NUL or a lone surrogate, a 400 that says so."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.datastructures import MultiValueDict
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles
from rest_framework.request import Request
from rest_framework.test import APIClient
from rest_framework.views import APIView

from api.parsers import MAX_DEPTH, ContentNegotiation, JSONParser, TextCheckedParser
from labeler.errors import ValidationFailed
from labeler.exports.models import Export
from labeler.idempotency.models import IdempotentRequest
from labeler.images.models import Image
from tests.factories import image_bytes

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
    ("body", "where", "what"),
    [
        ({"annotator": "a\x00b"}, "annotator", "the NUL character (U+0000)"),
        ({"format": "json", "split": ["0.5", "0.5\x00"]}, "split[1]", "the NUL character"),
        ({"a\x00": 1}, "a key of the body", "the NUL character"),
        ({"annotator": "\ud800"}, "annotator", "a lone surrogate (U+D800"),
        ({"format": "json", "split": ["\udfff"]}, "split[0]", "a lone surrogate (U+DFFF"),
        ({"\udc00x": 1}, "a key of the body", "a lone surrogate (U+DC00"),
    ],
)
def test_an_export_asked_for_with_unsafe_text_in_its_options_is_a_400(
    api_as, lead, project, body, where, what
):
    """PostgreSQL stores no NUL, and no lone surrogate encodes: each one was a 500."""
    response = api_as(lead).post(
        # json.dumps writes a lone surrogate as its escape (DRF's test renderer cannot).
        f"/api/v1/projects/{project.pk}/exports/",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(f"{where}: holds {what}")
    assert list(response.json()["errors"]) == [where]
    assert not Export.objects.exists()


def test_a_body_that_is_one_unsafe_string_is_a_400():
    response = APIClient().post("/api/v1/auth/token/", '"\\u0000"', content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "the body": ["the body: holds the NUL character (U+0000), which no text here can contain."]
    }


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ("username=a%00&password=x", "username"),
        ("username=%ED%A0%80&password=x", "username"),
        ("username=a&pass%00word=x", "the name pass\\u0000word"),
        ("username=%FF&password=x", "username"),
    ],
)
def test_a_form_body_with_unsafe_text_or_bytes_not_utf8_is_a_400(form, field):
    """DRF's form parser made U+FFFD of bytes that are not UTF-8 (a surrogate among them)."""
    response = APIClient().post(
        "/api/v1/auth/token/", form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert not Token.objects.exists()


def test_a_multipart_field_with_nul_is_a_400(api_as, lead, project):
    response = api_as(lead).post(
        f"/api/v1/projects/{project.pk}/imports/",
        {"files": [SimpleUploadedFile("a.png", image_bytes())], "annotator": "a\x00"},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["annotator"]
    assert not Image.objects.exists()


def test_a_file_sent_without_a_file_name_is_a_text_field_and_refused(api_as, lead, project):
    """A part with no file name is a field: a PNG's bytes there are not UTF-8 text (its
    first byte, 0x89, decoded as the lone surrogate U+DC89) and hold NUL."""
    boundary = "b"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename=""\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = api_as(lead).post(
        f"/api/v1/projects/{project.pk}/images/",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "files": [
            "files: holds a lone surrogate (U+DC89, half of a UTF-16 pair), which no text "
            "here can contain. A file is sent in a part with a file name."
        ]
    }
    assert not Image.objects.exists()


def test_an_unsafe_file_name_is_refused_by_the_checking_parser():
    """Django's multipart parser drops NUL from file names; a parser that kept it is checked."""
    upload = SimpleUploadedFile("a\x00.png", b"x")
    parsed = DataAndFiles(QueryDict(), MultiValueDict({"files": [upload]}))
    parser = TextCheckedParser(_Given(parsed))
    with pytest.raises(ValidationFailed, match="files: holds the NUL character"):
        parser.parse(io.BytesIO(b""), "multipart/form-data")


class _Given(BaseParser):
    """A parser that hands back what it was given."""

    media_type = "multipart/form-data"

    def __init__(self, parsed: object) -> None:
        self.parsed = parsed

    def parse(self, stream, media_type=None, parser_context=None):
        return self.parsed


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


def test_every_api_view_checks_the_text_of_what_it_parses():
    """Every view negotiates with the project's class, which wraps whichever parser it names."""
    views = _views(get_resolver())
    assert len(views) > 30
    for view in views:
        negotiator = view().get_content_negotiator()
        assert isinstance(negotiator, ContentNegotiation), view
        for parser in view().get_parsers():
            assert isinstance(
                negotiator.select_parser(_request(parser), [parser]), TextCheckedParser
            )


def _request(parser: BaseParser) -> Request:
    return Request(RequestFactory().post("/", b"{}", content_type=parser.media_type))


def test_every_api_view_parses_json_with_the_checking_parser():
    """A view that names its parsers must name this one for JSON, not DRF's own."""
    views = _views(get_resolver())
    assert len(views) > 30
    for view in views:
        for parser in view().get_parsers():
            if parser.media_type == "application/json":
                assert isinstance(parser, JSONParser), view
