"""The metadata columns of Hugging Face imagefolder's metadata.csv: capture time, origin,
camera, licence, tags, the position where the project keeps it in its exports, and a
column per project field.

Columns are named as Hugging Face's ``datasets`` reads them, plain words: a project field's
column is its name (``site``), which our CSV import reads back as that field's value, as
it reads ``latitude`` and ``longitude``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labeler.exports.formats.source import ExportSource
from labeler.exports.formats.text import TAG_SEPARATOR
from labeler.exports.selectors import ImageRow, export_field_names

METADATA = ["captured_at", "origin", "camera", "licence", "tags"]
POSITION = ["latitude", "longitude"]


def metadata_columns(source: ExportSource) -> list[str]:
    """The metadata columns of the source's project: its position's where it keeps them
    in exports, then its own fields by name."""
    positions = POSITION if source.project.export_keep_metadata else []
    return [*METADATA, *positions, *export_field_names(source.project)]


def metadata_cells(row: ImageRow, columns: Sequence[str]) -> dict[str, Any]:
    """The row's cells of ``columns`` (``metadata_columns``); blank where it says nothing."""
    known: dict[str, Any] = {
        "captured_at": row.captured_at or "",
        "origin": row.origin,
        "camera": row.camera,
        "licence": row.licence,
        "tags": TAG_SEPARATOR.join(row.tags),
        "latitude": "" if row.latitude is None else row.latitude,
        "longitude": "" if row.longitude is None else row.longitude,
    }
    return {
        column: known[column] if column in known else row.fields.get(column, "")
        for column in columns
    }
