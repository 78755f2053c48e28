"""The names an image's metadata goes by: its built-in fields, the keys and columns files use
for them, and the rule for the names of a project's own fields.

One list for the REST bodies, the imports' readers (which load without Django: the
command-line client reads labels files with them) and the exports' columns, so that a
column an export writes is one an import reads back.
"""

from __future__ import annotations

import re

# The built-in fields, by the name the REST API, the filters and the exports give them.
CAPTURED_AT, LATITUDE, LONGITUDE = "captured_at", "latitude", "longitude"
ORIGIN, CAMERA, LICENCE, TAGS = "origin", "camera", "licence", "tags"
BUILT_IN = (CAPTURED_AT, LATITUDE, LONGITUDE, ORIGIN, CAMERA, LICENCE, TAGS)

# Other names files give them (COCO's date_captured and license, our CSV's gps_ columns).
ALIASES = {
    "date_captured": CAPTURED_AT,
    "gps_latitude": LATITUDE,
    "lat": LATITUDE,
    "gps_longitude": LONGITUDE,
    "lon": LONGITUDE,
    "lng": LONGITUDE,
    "license": LICENCE,
    "tag": TAGS,
}
# An object holding the position ({"latitude": .., "longitude": ..}), as the API and our
# JSON, COCO and Label Studio exports write it.
POSITION_KEY = "gps"
# An object of a project's field values by field name, as the API and our exports write it.
FIELDS_KEY = "fields"
# A column or key naming a project field explicitly: ``field:site``.
FIELD_PREFIX = "field:"
TAG_SEPARATORS = re.compile(r"[;|]")

# A project field's name: what a column, a filter value (``field=site:north``) and a
# JSON key can carry without quoting.
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
FIELD_NAME_RULE = (
    "a lower-case letter, then up to 39 lower-case letters, digits or underscores "
    '("site", "age_band")'
)
# Names a field cannot take: the built-in fields and their aliases, and the columns our
# imports and exports read or write, which a column named after a field would shadow.
RESERVED_NAMES = frozenset(
    {
        *BUILT_IN,
        *ALIASES,
        POSITION_KEY,
        FIELDS_KEY,
        "field",
        "position",
        "source",
        "source_key",
        "id",
        "image_id",
        "file",
        "file_name",
        "filename",
        "image",
        "path",
        "label",
        "labels",
        "sha256",
        "width",
        "height",
        "format",
        "split",
        "annotator",
        "annotations",
        "time_spent_ms",
        "created_at",
        "updated_at",
        "final_labels",
        "final_method",
        "final_confidence",
        "final_decided_by",
        "decided_by",
        "decided_at",
        "prediction",
        "meta",
        "data",
    }
)


def builtin_key(key: str) -> str | None:
    """The built-in field a column or key names (any case, aliases too), or None."""
    name = key.strip().lower()
    if name in BUILT_IN:
        return name
    return ALIASES.get(name)


def field_key(key: str) -> str | None:
    """The project field a ``field:<name>`` column or key names, or None for another key."""
    stripped = key.strip()
    if stripped[: len(FIELD_PREFIX)].lower() != FIELD_PREFIX:
        return None
    return stripped[len(FIELD_PREFIX) :].strip()
