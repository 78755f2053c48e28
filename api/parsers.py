"""Request bodies a view can read without a 500: nesting bounded, no NUL nor lone surrogate.

Every body the API parses goes through ``TextCheckedParser``: the content negotiation
below (``DEFAULT_CONTENT_NEGOTIATION_CLASS``) wraps whichever parser a view names, DRF's
or ours, so a JSON body at any depth, a form's fields and a multipart request's field
values and file names are all refused (400, naming the field) when a string holds NUL or
a lone surrogate (``labeler.text_in``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.utils.datastructures import MultiValueDict
from rest_framework import negotiation, parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, DataAndFiles, FormParser
from rest_framework.request import Request

from labeler.errors import ValidationFailed
from labeler.json_depth import MAX_DEPTH  # bodies and labels files share one limit
from labeler.text_in import (
    data_refuse_unsafe,
    pairs_refuse_unsafe,
    query_refuse_unsafe,
    uploads_refuse_unsafe,
)

TOO_DEEP = f"JSON parse error - arrays and objects nest more than {MAX_DEPTH} levels deep."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing (400) bodies nested deeper than MAX_DEPTH."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        json_depth_check(data)
        return data


def json_depth_check(data: Any) -> None:
    """Raise ParseError for arrays and objects nested beyond MAX_DEPTH.

    The walk keeps a stack of its own: it cannot run out of recursion itself.
    """
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, dict | list):
                if depth == MAX_DEPTH:
                    raise ParseError(TOO_DEEP)
                stack.append((child, depth + 1))


class TextCheckedParser(BaseParser):
    """The parser it wraps, then NUL and lone surrogates refused in every string it gave."""

    def __init__(self, parser: BaseParser) -> None:
        self.parser = parser
        self.media_type = parser.media_type

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = None
        if isinstance(self.parser, FormParser) and stream is not None:
            body = stream.read()
            stream = io.BytesIO(body)
        parsed = self.parser.parse(stream, media_type, parser_context)
        if body is not None:  # read strictly as UTF-8: the parser made U+FFFD of what is not
            query_refuse_unsafe(body)
        if isinstance(parsed, DataAndFiles):
            try:
                parsed_text_check(parsed.data)
            except ValidationFailed as refusal:
                # Most often a file's bytes, sent in a part without a file name (a field).
                message = f"{refusal.message} A file is sent in a part with a file name."
                raise ValidationFailed(message, field=refusal.field) from None
            uploads_refuse_unsafe(parsed.files.lists())
        else:
            parsed_text_check(parsed)
        return parsed


def parsed_text_check(data: Any) -> None:
    """Refuse NUL or a lone surrogate in a parsed body: a form's fields or JSON's strings."""
    if isinstance(data, MultiValueDict):
        pairs_refuse_unsafe(data.lists())
    else:
        data_refuse_unsafe(data)


class ContentNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's content negotiation, handing out each parser wrapped in TextCheckedParser."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        parser = super().select_parser(request, parsers)
        return None if parser is None else TextCheckedParser(parser)
