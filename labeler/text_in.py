"""Text from outside refused when it holds NUL or a lone surrogate: the one owner of that rule.

PostgreSQL stores NUL neither in text nor in JSON, and a lone surrogate (U+D800-U+DFFF,
which JSON's ``\\ud800`` escape gives Python as a code point of its own) cannot be
encoded as UTF-8: either one reaching the database, a hash or a cache key was a 500.
Every string that arrives goes through ``text_refuse_unsafe``: the site's middleware
(path, query strings, the pages' forms; multipart bodies decoded with ``FIELDS_ENCODING``),
the API's parsers (bodies at any depth, form fields, file names), and the decoders of
strings nested in others once they have decoded them (``data_refuse_unsafe`` for
decoded JSON such as cursors and label files, ``query_refuse_unsafe`` for a query string
given as a field, such as a bulk action's filter). A refusal is a ``ValidationFailed``
naming the field, which both faces answer as a 400.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from labeler.errors import ValidationFailed
from labeler.unsafe_text import UNSAFE as _UNSAFE
from labeler.unsafe_text import text_unsafe_find


def text_refuse_unsafe(value: str, *, field: str) -> None:
    """Raise ValidationFailed naming ``field`` when ``value`` holds NUL or a lone surrogate."""
    what = text_unsafe_find(value)
    if what is not None:
        raise ValidationFailed(
            f"{field}: holds {what}, which no text here can contain.", field=field
        )


def data_refuse_unsafe(data: Any, *, field: str = "") -> None:
    """Refuse (ValidationFailed) NUL or a lone surrogate in any string of decoded data.

    ``data`` is what a decoder gave: text, numbers, and dicts (keys too) and lists of them
    at any depth. The refusal names the string's path (``split[1]``, ``filter.name``, ``a
    key of filter``); ``field`` names the whole (empty: the body). The walks keep a stack
    of their own (a body as deep as its decoder allows cannot exhaust the recursion
    limit); the paths are only made once something was found (on the hot paths, such as
    the annotators' submits, there is nothing to find).
    """
    if not _data_safe(data):
        _data_refuse_named(data, field)


def _data_safe(data: Any) -> bool:
    search = _UNSAFE.search
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if search(value):
                return False
        elif isinstance(value, dict):
            if any(isinstance(key, str) and search(key) for key in value):
                return False
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return True


def _data_refuse_named(data: Any, field: str) -> None:
    stack: list[tuple[Any, str]] = [(data, field)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            text_refuse_unsafe(value, field=where or "the body")
        elif isinstance(value, dict):
            for key in value:
                if isinstance(key, str):
                    text_refuse_unsafe(key, field=f"a key of {where or 'the body'}")
            stack.extend((child, _member(where, str(key))) for key, child in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(value))


def pairs_refuse_unsafe(pairs: Iterable[tuple[str, list[str]]]) -> None:
    """Refuse NUL or a lone surrogate in the names and values of a form or a query string.

    ``pairs`` is ``QueryDict.lists()``: each name with all its values. A refusal names the
    parameter; a name that is itself unsafe is named with its escapes (``x\\x00``).
    """
    for name, values in pairs:
        text_refuse_unsafe(name, field=f"the name {_escaped(name)}")
        for value in values:
            text_refuse_unsafe(value, field=name)


def query_refuse_unsafe(raw: bytes | str, *, within: str = "") -> None:
    """Refuse a query string or form body (as sent) that is not UTF-8 or holds unsafe text.

    Django decodes ``%ED%A0%80`` (a lone surrogate written as UTF-8) and other bytes that
    are not UTF-8 into U+FFFD without a word, so these are decoded here strictly, name by
    name and value by value, and then checked as any text is. A refusal names the
    parameter, within ``within`` where the query string was itself a field (a bulk
    action's ``selection.filter``: ``selection.filter.tag``). Text (a query string nested
    in a field) is taken as its UTF-8 bytes.
    """
    if not raw:
        return
    if isinstance(raw, str):
        raw = raw.encode("utf-8", errors="surrogatepass")  # a surrogate is then refused
    if raw.isascii() and b"%" not in raw and b"\x00" not in raw:
        return  # plain ASCII, nothing escaped: nothing to find (most queries)
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    for name, value in pairs:
        name_text = _utf8_decode(name, field=_name(repr(name.encode("latin-1")), within))
        text_refuse_unsafe(name_text, field=_name(_escaped(name_text), within))
        field = _member(within, name_text)
        text_refuse_unsafe(_utf8_decode(value, field=field), field=field)


# Django's multipart parser decodes each field's name and value with errors="replace":
# bytes that are not UTF-8 (``ED A0 80``, a lone surrogate written as UTF-8; an overlong
# ``C0 80``) became U+FFFD without a word, where a form body or a query string holding
# them is refused (file names lose what is unprintable, a lone surrogate too). The site's
# middleware has every multipart body decoded with this codec instead (UTF-8, whatever
# errors the caller asks for, each such byte kept as the lone surrogate U+DC80-U+DCFF),
# they reach the checks here as lone surrogates, and are refused as any is.
FIELDS_ENCODING = "labeler-utf-8-fields"
_FIELDS_CODEC = "labeler_utf_8_fields"  # as codecs.lookup hands it to a search function


def _fields_decode(data: Any, errors: str = "strict", /) -> tuple[str, int]:
    return codecs.utf_8_decode(data, "surrogateescape", True)


def _fields_encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
    return codecs.utf_8_encode(text, "surrogateescape")


def _fields_codec_find(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") != _FIELDS_CODEC:
        return None
    return codecs.CodecInfo(_fields_encode, _fields_decode, name=FIELDS_ENCODING)


codecs.register(_fields_codec_find)


def fields_encoding(declared: str | None) -> str:
    """The encoding a multipart body's parts are to be decoded with: ``FIELDS_ENCODING``
    for UTF-8 (what a body that declares none is), else the charset it declared."""
    if declared is None:
        return FIELDS_ENCODING
    try:
        return FIELDS_ENCODING if codecs.lookup(declared).name == "utf-8" else declared
    except LookupError:  # no such codec: left to Django's decoding, as before
        return declared


def uploads_refuse_unsafe(files: Iterable[tuple[str, list[Any]]]) -> None:
    """Refuse NUL or a lone surrogate in a multipart body's file field names and file names.

    ``files`` is ``request.FILES.lists()``. Django's multipart parser drops unprintable
    characters from file names already; this holds whatever parser read them.
    """
    for field, uploads in files:
        text_refuse_unsafe(field, field=f"the file field {_escaped(field)}")
        for upload in uploads:
            text_refuse_unsafe(getattr(upload, "name", None) or "", field=field)


def _member(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _name(shown: str, within: str) -> str:
    """The field naming a parameter's own name (``the name x\\u0000 in selection.filter``)."""
    return f"the name {shown} in {within}" if within else f"the name {shown}"


def _utf8_decode(text: str, *, field: str) -> str:
    """``text``, each character one byte as sent (latin-1), decoded strictly as UTF-8."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(
            f"{field}: its bytes are not UTF-8 (a lone surrogate, or another encoding), "
            "which no text here can be.",
            field=field,
        ) from None


def _escaped(text: str) -> str:
    """``text`` with NUL and lone surrogates written as escapes (printable, encodable)."""
    return _UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
