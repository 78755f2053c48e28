"""Label sources: which labels a folder or a labels file (CSV, JSON, JSON Lines, Label
Studio, COCO) gives each file.

Every source returns ``{key: [label names]}``. A key is a path relative to the folder
(ImageFolder, CSV) or a bare file name (CSV, Label Studio); ``LabelMatcher`` finds a
file's entry by its relative path first, then by its file name. Every labels file is read
by ``labels_file_load`` (``labeler.imports.reading.loader``: bounded, checked, typed), whichever
way it came. Nothing here imports Django: the command-line client uses these functions as
they are.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from labeler.images.pixels.formats import image_extensions
from labeler.imports.reading.csv_cells import (
    FILE_COLUMNS,
    FORMULA_STARTS,
    LABEL_COLUMNS,
    LABEL_SEPARATORS,
)
from labeler.imports.reading.csv_text import csv_rows
from labeler.imports.reading.json_formats import coco_labels_of, json_labels_of, jsonl_labels_of
from labeler.imports.reading.label_studio import (
    label_studio_file_key,
    label_studio_records_of,
    label_studio_tasks_records,
)
from labeler.imports.reading.label_studio_csv import label_studio_csv_records_of
from labeler.imports.reading.loader import (
    LabelSourceError,
    json_parse,
    jsonl_parse,
    labels_bytes_read,
    labels_path_read,
    labels_text,
)
from labeler.imports.reading.matching import LabelMatch, LabelMatcher, labels_merge, normalised
from labeler.imports.reading.metadata_in import MetadataIn, metadata_merge, metadata_of_columns
from labeler.imports.reading.records import AnnotationIn, RecordsFile
from labeler.imports.reading.tool_formats import (
    annotator_columns_records,
    cvat_xml_records,
    fiftyone_records,
    labelbox_ndjson_records,
)

__all__ = [
    "LabelMatch",
    "LabelMatcher",
    "LabelSourceError",
    "coco_labels",
    "csv_labels",
    "imagefolder_labels",
    "imagefolder_labels_of",
    "label_studio_labels",
    "labels_file_load",
    "labels_source_read",
]

# The images an import takes, by extension: those ``labeler.images.pixels.files`` accepts.
IMAGE_EXTENSIONS = image_extensions()
SPLIT_NAMES = frozenset({"train", "val", "valid", "validation", "test"})
UNLABELLED_FOLDER = "_unlabeled"  # FiftyOne's, in an ImageClassificationDirectoryTree

CSV, JSON, JSONL, LABEL_STUDIO, COCO = "csv", "json", "jsonl", "label-studio", "coco"
TSV, LABEL_STUDIO_CSV, LABEL_STUDIO_TSV = "tsv", "label-studio-csv", "label-studio-tsv"
# The other tools' per-person formats (``labeler.imports.reading.tool_formats``).
CVAT_XML, LABELBOX, FIFTYONE = "cvat-xml", "labelbox-ndjson", "fiftyone"
ANNOTATOR_COLUMNS = "csv-annotators"
LABEL_FILE_SUFFIX = {
    CSV: ".csv",
    TSV: ".tsv",
    LABEL_STUDIO_CSV: ".csv",
    LABEL_STUDIO_TSV: ".tsv",
    JSON: ".json",
    JSONL: ".jsonl",
    LABEL_STUDIO: ".json",
    COCO: ".json",
    CVAT_XML: ".xml",
    LABELBOX: ".ndjson",
    FIFTYONE: ".json",
    ANNOTATOR_COLUMNS: ".csv",
}

PathLike = str | os.PathLike[str]
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def labels_file_load(
    source: PathLike | IO[bytes] | bytes, *, labels_format: str, packed_size: int | None = None
) -> dict[str, list[str]]:
    """``{key: [label names]}`` of a labels file in ``labels_format`` (csv, json, jsonl,
    label-studio, coco): a path, an open binary stream (``packed_size``: an archive
    member's compressed size) or the bytes themselves.

    The one way a labels file is read: its size, inflation, encoding, nesting and every
    field's type are checked (``labeler.imports.reading.loader``). Raises LabelSourceError
    naming the record and what is wrong with it.
    """
    return _READERS[labels_format](_source_text(source, packed_size))


def records_file_load(
    source: PathLike | IO[bytes] | bytes, *, labels_format: str, packed_size: int | None = None
) -> RecordsFile:
    """The per-person records of a labels file in one of ``RECORDS_READERS``' formats,
    read with the same checks as ``labels_file_load``."""
    return RECORDS_READERS[labels_format](_source_text(source, packed_size))


def labels_source_load(
    source: PathLike | IO[bytes] | bytes, *, labels_format: str, packed_size: int | None = None
) -> dict[str, list[str]] | RecordsFile:
    """A labels file as its format gives it: per-person records for the formats that
    know who labelled what (``PER_PERSON_FORMATS``), label names by file otherwise."""
    if labels_format in RECORDS_READERS:
        return records_file_load(source, labels_format=labels_format, packed_size=packed_size)
    return labels_file_load(source, labels_format=labels_format, packed_size=packed_size)


@dataclass
class LabelsSource:
    """A labels file as read: its labels (by file key, or a per-person file's records) and
    what its records say of each image beside them (``metadata``, by the same keys)."""

    labels: dict[str, list[str]] | RecordsFile
    metadata: dict[str, MetadataIn] = field(default_factory=dict)


def labels_source_read(
    source: PathLike | IO[bytes] | bytes, *, labels_format: str, packed_size: int | None = None
) -> LabelsSource:
    """``labels_source_load``, with each image's metadata where the format carries it (CSV,
    TSV, our JSON and JSON Lines, COCO, Label Studio's JSON): an image the file gives
    metadata and no labels is an entry without labels, so that its file takes it."""
    text = _source_text(source, packed_size)
    if labels_format in RECORDS_READERS:
        records = RECORDS_READERS[labels_format](text)
        found = {key: r.metadata for key, r in records.images.items() if r.metadata}
        return LabelsSource(records, found)
    metadata: dict[str, MetadataIn] = {}
    reader = _METADATA_READERS.get(labels_format)
    labels = reader(text, metadata) if reader is not None else _READERS[labels_format](text)
    for key in metadata:
        labels.setdefault(key, [])
    return LabelsSource(labels, metadata)


def _source_text(source: PathLike | IO[bytes] | bytes, packed_size: int | None) -> str:
    if isinstance(source, bytes):
        return labels_text(labels_bytes_read(io.BytesIO(source)))
    if isinstance(source, str | os.PathLike):
        return labels_path_read(source)
    return labels_text(labels_bytes_read(source, packed_size=packed_size))


def folder_files(root: PathLike, *, recursive: bool = True) -> list[Path]:
    """The image files under ``root`` (by extension), sorted by their relative path.

    Hidden files and folders (names starting with a dot) are skipped.
    """
    base = Path(root)
    if not base.is_dir():
        raise LabelSourceError(f"{base} is not a folder.")
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(
            Path(folder, name)
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found, key=lambda path: path.relative_to(base).as_posix())


def imagefolder_labels(root: PathLike) -> dict[str, list[str]]:
    """``{relative path: [label]}`` of an ImageFolder tree, ``root/<label>/.../<file>``.

    When every top-level folder is a split name (train, val, valid, validation, test),
    the layout is ``root/<split>/<label>/.../<file>``, as our own export writes it. Files
    directly under ``root`` (or directly under a split) have no label and are left out, as
    are those in ``_unlabeled`` (where FiftyOne's ImageClassificationDirectoryTree puts
    its images without a label).
    """
    base = Path(root)
    return imagefolder_labels_of(path.relative_to(base).as_posix() for path in folder_files(base))


def imagefolder_labels_of(names: Iterable[str]) -> dict[str, list[str]]:
    """``imagefolder_labels`` over relative paths (``label/x.jpg``), an archive's say."""
    files = [tuple(normalised(name).split("/")) for name in names]
    tops = {parts[0] for parts in files if len(parts) > 1}
    depth = 1 if tops and {top.lower() for top in tops} <= SPLIT_NAMES else 0
    return {
        "/".join(parts): [parts[depth]]
        for parts in files
        if len(parts) > depth + 1 and parts[depth] != UNLABELLED_FOLDER
    }


def csv_labels(path_or_text: PathLike, *, delimiter: str = ",") -> dict[str, list[str]]:
    """``{file: [labels]}`` from a CSV file with a header row (``delimiter`` a tab: TSV).

    The file column is the first of ``file``, ``file_name``, ``filename``, ``image`` or
    ``path``; the label column is ``label`` or ``labels`` (header names are matched
    without regard to case). A cell may hold several labels separated by ``;`` or ``|``;
    an empty cell means no label. A file listed on several rows gets all their labels.
    A file given as a URL or a Label Studio link is keyed as the Label Studio export's
    (``label_studio_file_key``: ``/data/local-files/?d=a%20b.jpg`` is ``a b.jpg``).
    ``path_or_text`` is a path, or the CSV itself when it is a str holding a line break.
    """
    return _csv_rows(_read_text(path_or_text), delimiter=delimiter)


def _csv_rows(
    text: str, delimiter: str = ",", metadata: dict[str, MetadataIn] | None = None
) -> dict[str, list[str]]:
    """``csv_labels`` of the text; with ``metadata``, each row's other columns go there
    (``labeler.imports.reading.metadata_in``), by the same key."""
    kind, other = ("TSV", CSV) if delimiter == "\t" else ("CSV", TSV)
    rows = csv_rows(text, delimiter=delimiter, other_format=other)
    first = next(rows, None)
    if first is None:
        raise LabelSourceError(f"The {kind} file is empty; it needs a header row.", line=1)
    file_at, label_at = _csv_columns(first[1], delimiter)
    result: dict[str, list[str]] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        name = _csv_file_key(_unquoted(row[file_at]) if file_at < len(row) else "", line)
        cell = _unquoted(row[label_at]) if label_at < len(row) else ""
        labels_merge(result, name, LABEL_SEPARATORS.split(cell))
        if metadata is not None:
            cells = [_unquoted(cell) for cell in row]
            found = metadata_of_columns(
                first[1], cells, where=f"line {line}", skip=(file_at, label_at)
            )
            metadata_merge(metadata, name, found)
    return result


def _csv_file_key(cell: str, line: int) -> str:
    """A file cell as a key: a URL or a Label Studio link decoded, a path as written."""
    cell = cell.strip()
    if not cell:
        raise LabelSourceError("The file name is empty.", line=line)
    if "://" in cell or cell.startswith("/data/"):
        return label_studio_file_key(cell, f"line {line}: the file")
    return normalised(cell)


def _unquoted(cell: str) -> str:
    """A cell without the quote a CSV export puts before text starting like a formula."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_STARTS else cell


def _csv_columns(header: Sequence[str], delimiter: str) -> tuple[int, int]:
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    file_at = next((names.index(c) for c in FILE_COLUMNS if c in names), None)
    label_at = next((names.index(c) for c in LABEL_COLUMNS if c in names), None)
    found = ", ".join(repr(cell) for cell in header[:20]) or "nothing"
    if file_at is None:
        raise LabelSourceError(
            f"The header has no file column (one of {', '.join(FILE_COLUMNS)}); found {found}."
            + _csv_hint(names, delimiter),
            line=1,
        )
    if label_at is None:
        raise LabelSourceError(
            f"The header has no label column (label or labels); found {found}."
            + _csv_hint(names, delimiter),
            line=1,
        )
    return file_at, label_at


def _csv_hint(names: list[str], delimiter: str) -> str:
    """The format a header that does not fit looks like it is in, to say so."""
    if {"annotator", "annotation_id"} <= set(names):
        other = LABEL_STUDIO_TSV if delimiter == "\t" else LABEL_STUDIO_CSV
        return f" This is Label Studio's export, a row per annotation: use labels_format={other}."
    if delimiter == "," and len(names) == 1 and "\t" in names[0]:
        return f" The header holds tabs: is this a TSV file? Use labels_format={TSV}."
    return ""


def label_studio_labels(path_or_data: PathLike | Sequence[Any]) -> dict[str, list[str]]:
    """``{file name: [labels]}`` from a Label Studio JSON export (a path, or the parsed
    list of tasks), one list an image (``records_labels``); the imports read every
    person's instead (``records_file_load``)."""
    data = path_or_data
    if isinstance(data, str | os.PathLike):
        data = json_parse(_read_text(data))
    return label_studio_labels_of(data)


def label_studio_labels_of(data: Any) -> dict[str, list[str]]:
    """``label_studio_labels`` of the parsed list of tasks: each task's decision, else its
    latest annotation; a file named by several tasks gets the labels of all of them."""
    result: dict[str, list[str]] = {}
    for task in label_studio_tasks_records(data):
        for key, labels in records_labels(task).items():
            labels_merge(result, key, labels)
    return result


def records_labels(records: RecordsFile) -> dict[str, list[str]]:
    """``{key: [labels]}`` of per-person records, for the callers that take one list an
    image: its decision's labels, else its latest annotation's (by date, then order)."""
    result: dict[str, list[str]] = {}
    for key, image in records.images.items():
        if image.decision is not None:
            labels_merge(result, normalised(key), image.decision.labels)
        elif image.annotations:
            latest = max(enumerate(image.annotations), key=_annotation_order)[1]
            labels_merge(result, normalised(key), latest.labels)
    return result


def _annotation_order(pair: tuple[int, AnnotationIn]) -> tuple[datetime, int]:
    number, annotation = pair
    return (annotation.updated_at or annotation.created_at or _EARLIEST, number)


def coco_labels(path_or_data: PathLike | Mapping[str, Any]) -> dict[str, list[str]]:
    """``{file name: [category names]}`` from a COCO JSON document (a path, or the parsed
    object): see ``labeler.imports.reading.json_formats.coco_labels_of``."""
    data = path_or_data
    if isinstance(data, str | os.PathLike):
        data = json_parse(_read_text(data))
    return coco_labels_of(data)


def _read_text(path_or_text: PathLike) -> str:
    """The text itself when it holds a line break, else the file's (through the loader)."""
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return labels_text(path_or_text.encode("utf-8", "surrogatepass"))
    return labels_path_read(path_or_text)


_READERS: dict[str, Callable[[str], dict[str, list[str]]]] = {
    CSV: _csv_rows,
    JSON: lambda text: json_labels_of(json_parse(text)),
    JSONL: lambda text: jsonl_labels_of(jsonl_parse(text)),
    LABEL_STUDIO: lambda text: label_studio_labels_of(json_parse(text)),
    COCO: lambda text: coco_labels_of(json_parse(text)),
    TSV: lambda text: _csv_rows(text, delimiter="\t"),
    LABEL_STUDIO_CSV: lambda text: records_labels(label_studio_csv_records_of(text)),
    LABEL_STUDIO_TSV: lambda text: records_labels(label_studio_csv_records_of(text, "\t")),
}

# The flat formats whose readers give each image's metadata too.
_METADATA_READERS: dict[str, Callable[[str, dict[str, MetadataIn]], dict[str, list[str]]]] = {
    CSV: lambda text, found: _csv_rows(text, metadata=found),
    TSV: lambda text, found: _csv_rows(text, delimiter="\t", metadata=found),
    JSON: lambda text, found: json_labels_of(json_parse(text), metadata=found),
    JSONL: lambda text, found: jsonl_labels_of(jsonl_parse(text), metadata=found),
    COCO: lambda text, found: coco_labels_of(json_parse(text), metadata=found),
}

# The formats that know who labelled what: read as per-person records (records.py).
RECORDS_READERS: dict[str, Callable[[str], RecordsFile]] = {
    LABEL_STUDIO: lambda text: label_studio_records_of(json_parse(text)),
    LABEL_STUDIO_CSV: label_studio_csv_records_of,
    LABEL_STUDIO_TSV: lambda text: label_studio_csv_records_of(text, delimiter="\t"),
    CVAT_XML: cvat_xml_records,
    LABELBOX: labelbox_ndjson_records,
    FIFTYONE: fiftyone_records,
    ANNOTATOR_COLUMNS: annotator_columns_records,
}
PER_PERSON_FORMATS = frozenset(RECORDS_READERS)
