"""What a labels file says of each image beside its labels: capture time, position, origin,
camera, licence, tags and the project's own fields.

A CSV's columns and a JSON record's keys are read by the names the images layer gives
them (``labeler.images.catalogue.metadata_keys``): ``captured_at`` (COCO's ``date_captured``),
``latitude`` and ``longitude`` (``gps_latitude``, ``gps_longitude``; a ``gps`` object in
JSON), ``origin``, ``camera``, ``licence`` (``license``), ``tags`` (a list, or text joined
by ``;``), ``field:<name>`` and a ``fields`` object for a project field. Other columns and
keys are kept as ``extra``: the import takes those named as one of the project's fields
as its value. A blank cell or a null says nothing (it clears nothing).

Only what the file holds is read here, as text or JSON values, refused (LabelSourceError
naming the record and the key) where no text can hold it; whether a value fits its field
is the images layer's to say, when the import starts (``labeler.images.catalogue.descriptions``).
Plain Python, no Django: the command-line client reads labels files the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labeler.images.catalogue.metadata_keys import (
    FIELDS_KEY,
    LATITUDE,
    LONGITUDE,
    POSITION_KEY,
    RESERVED_NAMES,
    builtin_key,
    field_key,
)
from labeler.imports.reading.loader import LabelSourceError
from labeler.unsafe_text import text_unsafe_find

Scalar = str | int | float


@dataclass
class MetadataIn:
    """What one record says of its image: ``values`` of the built-in fields by name,
    ``named`` the project fields it names (``field:site``, ``fields``), ``extra`` its
    other columns or keys, and ``where`` the record for a refusal (``line 3``, ``Task 2``)."""

    values: dict[str, Any] = field(default_factory=dict)
    named: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Scalar] = field(default_factory=dict)
    where: str = ""

    def __bool__(self) -> bool:
        return bool(self.values or self.named or self.extra)

    def merge(self, other: MetadataIn) -> None:
        """Take what ``other`` (a later record of the same image) says that this does not."""
        for key, value in other.values.items():
            self.values.setdefault(key, value)
        for key, value in other.named.items():
            self.named.setdefault(key, value)
        for key, extra in other.extra.items():
            self.extra.setdefault(key, extra)


def metadata_merge(found: dict[str, MetadataIn], key: str, metadata: MetadataIn) -> None:
    """Add a record's metadata to the file's, by key: a key given again (a CSV row per
    annotation) keeps what its first record said, and takes what only a later one says."""
    if not metadata:
        return
    if key in found:
        found[key].merge(metadata)
    else:
        found[key] = metadata


def metadata_of_columns(
    names: Sequence[str], row: Sequence[str], *, where: str, skip: Collection[int] = ()
) -> MetadataIn:
    """A CSV row's metadata: each column (``names``, the header as written) but those at
    ``skip`` (the file and label columns)."""
    found = MetadataIn(where=where)
    for at, name in enumerate(names):
        if at in skip or at >= len(row) or not row[at].strip():
            continue
        _put(found, name.strip().lstrip("\ufeff"), row[at].strip(), where)
    return found


def metadata_of_object(
    data: Mapping[str, Any], *, where: str, skip: Collection[str] = ()
) -> MetadataIn:
    """A JSON record's metadata (an image of our JSON or COCO, a Label Studio task's
    ``data`` or ``meta``): its keys but ``skip``; a value that is no text, number or list
    of texts is left out, as an object is but ``gps`` and ``fields``."""
    found = MetadataIn(where=where)
    for key, value in data.items():
        if key in skip or value is None or value == "" or value == []:
            continue
        if key == POSITION_KEY:
            _position(found, value, f"{where}: {key}")
        elif key == FIELDS_KEY:
            _fields(found, value, f"{where}: {key}")
        elif _scalar(value) or (isinstance(value, list) and builtin_key(key) is not None):
            _put(found, key, value, where)
    return found


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _put(found: MetadataIn, key: str, value: Any, where: str) -> None:
    _safe(value, f"{where}: {key}")
    builtin = builtin_key(key)
    named = field_key(key)
    if builtin is not None:
        found.values.setdefault(builtin, value)
    elif named is not None:
        found.named.setdefault(named, value)
    elif key.strip().lower() not in RESERVED_NAMES and isinstance(value, str | int | float):
        found.extra.setdefault(key.strip(), value)


def _position(found: MetadataIn, value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise LabelSourceError(f'{where} must be an object {{"latitude": .., "longitude": ..}}.')
    for key in (LATITUDE, LONGITUDE):
        if value.get(key) is not None:
            _safe(value[key], f"{where}.{key}")
            found.values.setdefault(key, value[key])


def _fields(found: MetadataIn, value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise LabelSourceError(f"{where} must be an object of field names and values.")
    for name, item in value.items():
        if item is None or item == "":
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise LabelSourceError(f"{where}.{name} must be text or a number.")
        _safe(item, f"{where}.{name}")
        found.named.setdefault(str(name), item)


def _safe(value: Any, where: str) -> None:
    """Refuse text no database stores (NUL, a lone surrogate), in a value or a list."""
    for item in value if isinstance(value, list) else [value]:
        unsafe = text_unsafe_find(item) if isinstance(item, str) else None
        if unsafe is not None:
            raise LabelSourceError(f"{where} holds {unsafe}, which no text here can contain.")
