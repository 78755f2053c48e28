"""The export formats: each a writer streaming bytes, with its content type and extension."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from labeler.exports.formats.archives import export_hf_imagefolder, export_imagefolder
from labeler.exports.formats.coco import export_coco
from labeler.exports.formats.label_studio import export_label_studio
from labeler.exports.formats.label_studio_zip import export_label_studio_zip
from labeler.exports.formats.source import ExportSource
from labeler.exports.formats.text import export_csv, export_json, export_jsonl
from labeler.exports.options import FORMATS


@dataclass(frozen=True)
class ExportFormat:
    """How one format is written and served."""

    write: Callable[[ExportSource], Iterator[bytes]]
    content_type: str
    extension: str


EXPORTERS: dict[str, ExportFormat] = {
    "json": ExportFormat(export_json, "application/json", "json"),
    "jsonl": ExportFormat(export_jsonl, "application/x-ndjson", "jsonl"),
    "csv": ExportFormat(export_csv, "text/csv; charset=utf-8", "csv"),
    "coco": ExportFormat(export_coco, "application/json", "coco.json"),
    "imagefolder": ExportFormat(export_imagefolder, "application/zip", "imagefolder.zip"),
    "hf-imagefolder": ExportFormat(export_hf_imagefolder, "application/zip", "hf.zip"),
    "label-studio": ExportFormat(export_label_studio, "application/json", "label-studio.json"),
    "label-studio-zip": ExportFormat(
        export_label_studio_zip, "application/zip", "label-studio.zip"
    ),
}
assert tuple(EXPORTERS) == FORMATS, "options.FORMATS names every writer, in order"


def exporter_get(fmt: str) -> ExportFormat:
    """The writer, content type and file extension of a (checked) format."""
    return EXPORTERS[fmt]


__all__ = ["EXPORTERS", "ExportFormat", "ExportSource", "exporter_get"]
