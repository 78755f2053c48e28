"""Writers that turn export rows into JSON or CSV, streamed chunk by chunk."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict

from labeler.errors import ValidationFailed
from labeler.exports.selectors import export_rows
from labeler.projects.models import Project

CSV_COLUMNS = [
    "image_id",
    "file_name",
    "sha256",
    "width",
    "height",
    "annotator",
    "labels",
    "time_spent_ms",
    "created_at",
    "updated_at",
    "final_labels",
    "final_method",
    "final_confidence",
]


def export_json(project: Project) -> Iterator[str]:
    """One JSON document: the project, its labels and every image with its labels."""
    header = {
        "project": {
            "id": project.pk,
            "name": project.name,
            "multi_label": project.multi_label,
            "overlap": project.overlap,
        },
        "labels": [
            {"id": label.pk, "name": label.name, "color": label.color, "hotkey": label.hotkey}
            for label in project.labels.all()
        ],
    }
    opening = json.dumps(header)[:-1]
    yield opening + ', "images": ['
    for index, row in enumerate(export_rows(project)):
        yield ("," if index else "") + json.dumps(asdict(row))
    yield "]}\n"


def export_csv(project: Project) -> Iterator[str]:
    """One row per annotation (one row for an image nobody has labelled yet).

    Multiple labels are joined with ';'.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for row in export_rows(project):
        final = [
            ";".join(row.final_labels) if row.final_labels is not None else "",
            row.final_method or "",
            "" if row.final_confidence is None else row.final_confidence,
        ]
        base = [row.id, row.file_name, row.sha256, row.width, row.height]
        if not row.annotations:
            writer.writerow([*base, "", "", "", "", "", *final])
        for annotation in row.annotations:
            writer.writerow(
                [
                    *base,
                    annotation.annotator,
                    ";".join(annotation.labels),
                    "" if annotation.time_spent_ms is None else annotation.time_spent_ms,
                    annotation.created_at,
                    annotation.updated_at,
                    *final,
                ]
            )
        yield flush()


EXPORTERS: dict[str, tuple[Callable[[Project], Iterator[str]], str, str]] = {
    "json": (export_json, "application/json", "json"),
    "csv": (export_csv, "text/csv; charset=utf-8", "csv"),
}


def exporter_get(fmt: str) -> tuple[Callable[[Project], Iterator[str]], str, str]:
    """The writer, content type and file extension of a format."""
    try:
        return EXPORTERS[fmt]
    except KeyError:
        raise ValidationFailed(
            f"Unknown export format {fmt!r}; choose one of {', '.join(EXPORTERS)}.",
            field="format",
        ) from None
