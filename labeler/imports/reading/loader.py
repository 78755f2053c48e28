"""Reading a labels file from outside: the bytes, bounded; the text, checked; the JSON,
parsed no deeper than ``MAX_DEPTH``; each field, typed.

Every labels file comes through here, whatever its format and however it came: sent
beside an archive, found inside one (read as a stream, refused once it inflates past
``MAX_INFLATION`` times its packed size or past ``MAX_LABELS_FILE_BYTES``) or read from a
folder. A file that cannot be read raises ``LabelSourceError`` naming the record (line,
task, image, annotation) and what is wrong with it. Nothing here imports Django: the
command-line client reads its labels files through the same functions.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from labeler.dates_in import moment_read
from labeler.errors import ValidationFailed
from labeler.json_depth import MAX_DEPTH
from labeler.unsafe_text import text_unsafe_find

# A labels file becomes Python objects several times its size; 32 MiB holds the labels
# of a few hundred thousand images in any of the formats.
MAX_LABELS_FILE_BYTES = 32 * 1024 * 1024
# Labels files compress well (JSON keys repeat), but not a thousandfold as a bomb does.
MAX_INFLATION = 100
INFLATION_FREE_BYTES = 1024 * 1024  # small members are not held to the ratio
CHUNK_BYTES = 1024 * 1024
# A string, or one of the brackets that nest; a string's brackets are not counted. A
# string left open runs to the end of the text (its closing quote is optional): were it
# required, each quote of an unclosed run of escaped ones would rescan the rest of the
# text, quadratic (128 kB of escaped quotes held a worker for a minute); the decoder refuses
# the open string after.
_DIGITS = re.compile("[0-9]+")  # each run matched once (linear, unlike [0-9]{4301,})
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)

PathLike = str | os.PathLike[str]


class LabelSourceError(ValueError):
    """A folder or label file that cannot be read, with where the problem is."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


def labels_bytes_read(stream: IO[bytes], *, packed_size: int | None = None) -> bytes:
    """The stream's bytes, read a chunk at a time and never more than the limits allow.

    ``packed_size`` is the compressed size of an archive member: the stream may inflate
    to ``MAX_INFLATION`` times it (at least ``INFLATION_FREE_BYTES``). Raises
    LabelSourceError as soon as a limit is passed, holding no more than it allows.
    """
    limit = MAX_LABELS_FILE_BYTES
    if packed_size is not None:
        limit = min(limit, max(INFLATION_FREE_BYTES, packed_size * MAX_INFLATION))
    data = bytearray()
    while chunk := stream.read(min(CHUNK_BYTES, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            if limit < MAX_LABELS_FILE_BYTES:
                raise LabelSourceError(
                    f"The labels file inflates to more than {MAX_INFLATION} times its packed "
                    f"size ({packed_size:,} bytes); a zip bomb is refused."
                )
            raise LabelSourceError(f"The labels file is over {MAX_LABELS_FILE_BYTES:,} bytes.")
    return bytes(data)


def labels_path_read(path: PathLike) -> str:
    """The text of the labels file at ``path``, read as ``labels_text`` says."""
    try:
        with Path(path).open("rb") as stream:
            return labels_text(labels_bytes_read(stream))
    except OSError as exc:
        raise LabelSourceError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def labels_text(data: bytes) -> str:
    """The file's UTF-8 text (a byte order mark dropped); its NULs are refused by line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise LabelSourceError(f"The file is not UTF-8 text: {exc.reason}.", line=line) from exc
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise LabelSourceError("The NUL character is no text a labels file holds.", line=line)
    return text


def json_parse(text: str) -> Any:
    """The JSON document ``text``, refused (naming its line) when it nests too deep or is
    not JSON. The depth is counted before parsing, so no depth reaches the decoder."""
    _depth_check(text, line=None)
    return _json_loads(text, line=None)


def jsonl_parse(text: str) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's JSON value with its line number, checked as ``json_parse``.

    Lines end at a line feed only (a carriage return before it dropped): JSON text may
    hold U+2028, U+2029 and U+0085 unescaped, which ``str.splitlines`` would break at.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        _depth_check(line, line=number)
        yield number, _json_loads(line, line=number)


def _json_loads(text: str, *, line: int | None) -> Any:
    """``json.loads(text)``, its refusals a LabelSourceError naming the line (``line``: the
    line ``text`` is, None: counted within it)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelSourceError(f"Not valid JSON: {exc.msg}.", line=line or exc.lineno) from exc
    except ValueError as exc:  # an integer longer than Python converts (sys.int_info)
        limit = sys.get_int_max_str_digits()
        found = next((run for run in _DIGITS.finditer(text) if len(run.group()) > limit), None)
        at = text.count("\n", 0, found.start()) + 1 if found is not None else None
        raise LabelSourceError(f"A number has more than {limit} digits.", line=line or at) from exc


def _depth_check(text: str, *, line: int | None) -> None:
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                at = line if line is not None else text.count("\n", 0, token.start()) + 1
                raise LabelSourceError(
                    f"Arrays and objects nest more than {MAX_DEPTH} levels deep.", line=at
                )
        elif bracket in ("]", "}"):
            depth -= 1


def text_field(value: Any, where: str, *, blank: bool = False) -> str:
    """``value`` as text from outside: a string, not blank (unless ``blank``), holding
    neither NUL nor a lone surrogate (which no database stores). ``where`` names the
    record and field for the message (``"Task 3: data.image"``)."""
    if not isinstance(value, str):
        raise LabelSourceError(f"{where} must be text, not {_kind(value)}.")
    unsafe = text_unsafe_find(value)
    if unsafe is not None:
        raise LabelSourceError(f"{where} holds {unsafe}, which no text here can contain.")
    if not blank and not value.strip():
        raise LabelSourceError(f"{where} is empty.")
    return value


def id_field(value: Any, where: str) -> int | str:
    """``value`` as a record's id: a whole number or text."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise LabelSourceError(f"{where} must be a whole number or text, not {_kind(value)}.")
    return text_field(value, where) if isinstance(value, str) else value


def names_field(value: Any, where: str) -> list[str]:
    """Label names: a list of text, or one text (a single name); None is none."""
    if value is None:
        return []
    if isinstance(value, str):
        return [text_field(value, where, blank=True)]
    if not isinstance(value, list):
        raise LabelSourceError(f"{where} must be a list of label names, not {_kind(value)}.")
    return [text_field(name, f"{where}[{i}]", blank=True) for i, name in enumerate(value)]


def object_field(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a JSON object."""
    if not isinstance(value, dict):
        raise LabelSourceError(f"{where} must be an object, not {_kind(value)}.")
    return value


def list_field(value: Any, where: str) -> list[Any]:
    """``value`` as a JSON list."""
    if not isinstance(value, list):
        raise LabelSourceError(f"{where} must be a list, not {_kind(value)}.")
    return value


def flag_field(value: Any, where: str) -> bool:
    """``value`` as a yes or no: true or false; None is false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise LabelSourceError(f"{where} must be true or false, not {_kind(value)}.")
    return value


def moment_text(text: str, where: str) -> datetime:
    """A date and time a file writes in ISO 8601 (``2024-05-01T10:00:00.123Z``), in UTC
    where it names no zone, read by ``labeler.dates_in`` (which refuses years outside the
    ones every date from outside keeps to)."""
    try:
        return moment_read(text, field=where)
    except ValidationFailed as refused:
        raise LabelSourceError(refused.message) from None


def number_field(value: Any, where: str) -> int | float:
    """``value`` as a number from 0 up (a whole number or a finite fraction)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabelSourceError(f"{where} must be a number, not {_kind(value)}.")
    if value < 0 or value != value or value in (float("inf"), float("-inf")):
        raise LabelSourceError(f"{where} must be a number from 0 up, not {value!r}.")
    return value


def _kind(value: Any) -> str:
    """What a JSON value is, for a message: ``a list``, ``the number 3``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def annotators_parse(text: str) -> dict[str, str]:
    """The lead's choice of accounts for a per-person file's people, as the API, the page,
    the command and the client take it: a JSON object from each person (their key or
    e-mail) to a member's username, or to "new" for an account of their own. Read as
    every labels file's JSON is (bounded, checked); raises LabelSourceError saying what
    is wrong. Blank text is no choice."""
    if not text.strip():
        return {}
    try:
        chosen = json_parse(text)
    except LabelSourceError as exc:  # not JSON, nested too deep, a number too long
        raise LabelSourceError(f"Not JSON that can be read: {exc}") from exc
    if not isinstance(chosen, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in chosen.items()
    ):
        raise LabelSourceError(
            'A JSON object of text to text: {"<person>": "<username>" or "new"}.'
        )
    return chosen


def people_confirmed_parse(text: str) -> list[str]:
    """The people whose match contradicts the file that the lead confirmed, as the API,
    the page and the command take them: a JSON list of their keys or e-mails, or the same
    separated by commas or new lines. Blank text confirms no one; raises LabelSourceError
    saying what is wrong."""
    text = text.strip()
    if not text:
        return []
    if not text.startswith("["):
        return [name.strip() for name in re.split(r"[,\n]", text) if name.strip()]
    try:
        named = json_parse(text)
    except LabelSourceError as exc:
        raise LabelSourceError(f"Not JSON that can be read: {exc}") from exc
    if not isinstance(named, list) or not all(isinstance(name, str) for name in named):
        raise LabelSourceError('A JSON list of text: ["<person key or e-mail>", ...].')
    return [name.strip() for name in named if name.strip()]
