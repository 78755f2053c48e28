"""Request body parsers: JSON bodies a view can read without a 500."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Nesting of arrays and objects; the API's own bodies need three levels at most. Deeper
# bodies would recurse through the serializers, the error handler and the idempotency
# fingerprint; past about a thousand levels Python's decoder itself gives up.
MAX_DEPTH = 32
TOO_DEEP = f"JSON parse error - arrays and objects nest more than {MAX_DEPTH} levels deep."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing (400) bodies nested too deep and text holding NUL."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        json_body_check(data)
        return data


def json_body_check(data: Any) -> None:
    """Raise ParseError for nesting beyond MAX_DEPTH or a NUL character in any text.

    PostgreSQL stores no NUL in text or JSON, so such a body could only fail later. The
    walk keeps a stack of its own (it cannot run out of recursion itself) and looks for
    where a NUL is only once it has found one.
    """
    if isinstance(data, str):
        _text_check(data, "the body")
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if any("\x00" in key for key in value):
                _nul_find(data)
            value = value.values()
        for child in value:
            if isinstance(child, str):
                if "\x00" in child:
                    _nul_find(data)
            elif isinstance(child, dict | list):
                if depth == MAX_DEPTH:
                    raise ParseError(TOO_DEEP)
                stack.append((child, depth + 1))


def _nul_find(data: Any) -> None:
    """Raise the ParseError naming where the body's first NUL is (its members' path)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            _text_check(value, where or "the body")
        elif isinstance(value, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(value))
        elif isinstance(value, dict):
            for key in value:
                _text_check(key, f"a key of {where or 'the body'}")
            members = value.items()
            stack.extend((child, f"{where}.{key}" if where else key) for key, child in members)


def _text_check(text: str, where: str) -> None:
    if "\x00" in text:
        raise ParseError(
            f"JSON parse error - {where} holds the NUL character (\\u0000), "
            "which no text here can contain."
        )
