"""JSON, JSON Lines and CSV, written row by row."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from labeler.exports.formats.source import ExportSource
from labeler.exports.options import ExportOptions
from labeler.exports.selectors import ImageRow, export_field_names
from labeler.images.catalogue.metadata_keys import FIELD_PREFIX
from labeler.imports.reading.sources import FORMULA_STARTS

IMAGE_COLUMNS = ["image_id", "file_name", "sha256", "width", "height"]
METADATA_COLUMNS = ["captured_at", "origin", "camera", "licence", "tags", "source", "source_key"]
POSITION_COLUMNS = ["gps_latitude", "gps_longitude"]  # where the project keeps them
# A project field's column, as the CSV import reads it back: field:site.
FIELD_COLUMN = FIELD_PREFIX + "{}"
TAG_SEPARATOR = ";"
ANNOTATION_COLUMNS = ["annotator", "labels", "time_spent_ms", "created_at", "updated_at"]
FINAL_COLUMNS = ["final_labels", "final_method", "final_confidence"]


def row_json(row: ImageRow, options: ExportOptions, *, positions: bool = False) -> dict[str, Any]:
    """One image as JSON: its metadata (``gps`` with ``positions``), its annotations (unless
    final only), final label, split, prediction."""
    data: dict[str, Any] = {
        "id": row.id,
        "file_name": row.file_name,
        "sha256": row.sha256,
        "width": row.width,
        "height": row.height,
        **row.metadata(positions=positions),
    }
    if not options.final_only:
        data["annotations"] = [_annotation_json(annotation) for annotation in row.annotations]
    data.update(
        final_labels=row.final_labels,
        final_method=row.final_method,
        final_confidence=row.final_confidence,
    )
    if options.split:
        data["split"] = row.split
    if options.predictions:
        data["prediction"] = row.prediction
    return data


def _annotation_json(annotation: Any) -> dict[str, Any]:
    data = asdict(annotation)
    del data["annotator_id"]
    return data


def export_json(source: ExportSource) -> Iterator[bytes]:
    """One JSON document: the project, its labels, the options and every image."""
    project = source.project
    header = {
        "project": {
            "id": project.pk,
            "name": project.name,
            "multi_label": project.multi_label,
            "overlap": project.overlap,
        },
        "labels": [
            {
                "id": label.pk,
                "name": label.name,
                "color": label.color,
                "hotkey": label.hotkey,
                "group": label.group,
            }
            for label in project.labels.all()
        ],
        "options": source.options.as_dict(),
    }
    yield (json.dumps(header)[:-1] + ', "images": [').encode()
    positions = source.project.export_keep_metadata
    for index, row in enumerate(source.rows()):
        data = row_json(row, source.options, positions=positions)
        yield (("," if index else "") + json.dumps(data)).encode()
    yield b"]}\n"


def export_jsonl(source: ExportSource) -> Iterator[bytes]:
    """One image a line, each a JSON object as in the JSON format's images."""
    positions = source.project.export_keep_metadata
    for row in source.rows():
        yield (json.dumps(row_json(row, source.options, positions=positions)) + "\n").encode()


def csv_columns(
    options: ExportOptions, *, positions: bool = False, field_names: Sequence[str] = ()
) -> list[str]:
    """The header: the image's, its position's with ``positions``, a column per project
    field (``field:<name>``), annotation columns unless final only, split when asked."""
    image = [
        *IMAGE_COLUMNS,
        *METADATA_COLUMNS,
        *(POSITION_COLUMNS if positions else []),
        *(FIELD_COLUMN.format(name) for name in field_names),
    ]
    columns = [*image, *([] if options.final_only else ANNOTATION_COLUMNS)]
    return [*columns, *FINAL_COLUMNS, *(["split"] if options.split else [])]


def export_csv(source: ExportSource) -> Iterator[bytes]:
    """One row per annotation (per image when final only, or when nobody labelled it).

    Multiple labels, and an image's tags, are joined with ';'.
    """
    options = source.options
    positions = source.project.export_keep_metadata
    names = export_field_names(source.project)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_columns(options, positions=positions, field_names=names))
    for row in source.rows():
        for values in _csv_rows(row, options, positions=positions, field_names=names):
            writer.writerow([spreadsheet_safe(value) for value in values])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


def spreadsheet_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, behind a quote (OWASP's advice).

    Our CSV label source takes the quote off again, so an export imports back as it was.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_rows(
    row: ImageRow, options: ExportOptions, *, positions: bool, field_names: Sequence[str]
) -> Iterator[list[Any]]:
    base = [
        *[row.id, row.file_name, row.sha256, row.width, row.height],
        *[row.captured_at or "", row.origin, row.camera, row.licence],
        *[TAG_SEPARATOR.join(row.tags), row.source, row.source_key],
        *(_blank_none([row.latitude, row.longitude]) if positions else []),
        *(row.fields.get(name, "") for name in field_names),
    ]
    final = [
        ";".join(row.final_labels) if row.final_labels is not None else "",
        row.final_method or "",
        "" if row.final_confidence is None else row.final_confidence,
        *([row.split] if options.split else []),
    ]
    if options.final_only or not row.annotations:
        yield [*base, *([] if options.final_only else [""] * 5), *final]
        return
    for annotation in row.annotations:
        spent = "" if annotation.time_spent_ms is None else annotation.time_spent_ms
        labels = ";".join(annotation.labels)
        yield [
            *base,
            *[annotation.annotator, labels, spent, annotation.created_at, annotation.updated_at],
            *final,
        ]


def _blank_none(values: list[Any]) -> list[Any]:
    return ["" if value is None else value for value in values]
