"""Zips of the images themselves: torchvision's ImageFolder and Hugging Face's imagefolder."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO

from labeler.errors import ValidationFailed
from labeler.exports.formats.classes import (
    CLASSES_FILE,
    MODEL_OUTPUTS_FILE,
    export_classes,
    folder_classes_text,
    label_classes_text,
    model_order,
)
from labeler.exports.formats.members import StoredImage, ZipStream, safe_file_name
from labeler.exports.formats.metadata_csv import metadata_cells, metadata_columns
from labeler.exports.formats.source import ExportSource
from labeler.exports.formats.text import spreadsheet_safe
from labeler.exports.selectors import ImageRow
from labeler.images.face_regions import export_face_boxes
from labeler.projects.models import Project

# A multi-label image's labels in one metadata.csv cell: example["labels"].split(";").
LABEL_SEPARATOR = ";"


def export_imagefolder(source: ExportSource) -> Iterator[bytes]:
    """``[split/]label/<id>-<name>`` for every final label of every labelled image.

    Each split folder (the archive's root without a split) holds a folder for every
    label, empty where the split has none of its images, and ``classes.txt``
    (``formats.classes``), so torchvision numbers the classes alike in every split, and
    ``model_outputs.txt``, the same classes in the project's order, its models'. A
    multi-label image goes into each of its labels' folders, read and written once;
    images without a final label (or with an empty one) are left out, and with the
    project's own split those it leaves out.
    """
    classes = export_classes(source.label_names())
    outputs = folder_classes_text(model_order(source.label_names()))
    folders = {item.label: item.folder for item in classes}
    with _image_stream(source) as stream:
        for prefix in [f"{name}/" for name in source.options.split_names] or [""]:
            for item in classes:
                yield from stream.add_directory(f"{prefix}{item.folder}/")
            yield from stream.add_text(f"{prefix}{CLASSES_FILE}", folder_classes_text(classes))
            yield from stream.add_text(f"{prefix}{MODEL_OUTPUTS_FILE}", outputs)

        def placed() -> Iterator[StoredImage]:
            for row in _exported_rows(source):
                prefix = f"{row.split}/" if row.split else ""
                name = safe_file_name(row.id, row.file_name, stream.written_format(row.format))
                paths = [f"{prefix}{folders[label]}/{name}" for label in row.final_labels or []]
                yield StoredImage(paths, row.file, row.format, converted_name=row.converted)

        yield from stream.add_images(placed())
        yield from stream.close()


def export_hf_imagefolder(source: ExportSource) -> Iterator[bytes]:
    """``<split>/<id>-<name>`` plus ``<split>/metadata.csv`` (``train/`` without a split).

    metadata.csv holds ``file_name``, ``image_id`` and ``label`` (single-label projects)
    or ``labels`` (multi-label: the names joined with ';'), then the images' metadata
    (``metadata_csv``), its cells quoted as the CSV export's are when they start like a
    formula. Each split's metadata is spooled to a
    temporary file and added after its images. ``classes.txt``, at the root, names every
    label in the ImageFolder export's class order, for ``datasets.ClassLabel(names_file=...)``:
    the label column is text, and encoding it split by split would number it per split.
    """
    multi_label = source.project.multi_label
    hf_labels_check(source.project)
    label_column = "labels" if multi_label else "label"
    classes = export_classes(source.label_names())
    columns = metadata_columns(source)
    metadata: dict[str, csv.DictWriter] = {}
    spools: dict[str, IO[str]] = {}
    with ExitStack() as closing:
        stream = closing.enter_context(_image_stream(source))
        yield from stream.add_text(CLASSES_FILE, label_classes_text(classes))

        def described() -> Iterator[StoredImage]:
            """Each image, its metadata.csv row written as it is handed on."""
            for row in _exported_rows(source):
                split = row.split or "train"
                if split not in metadata:
                    spools[split] = closing.enter_context(
                        tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
                    )
                    metadata[split] = _metadata_writer(spools[split], label_column, columns)
                name = safe_file_name(row.id, row.file_name, stream.written_format(row.format))
                finals = row.final_labels or []
                labels = LABEL_SEPARATOR.join(finals) if multi_label else finals[0]
                cells = {"file_name": name, "image_id": row.id, label_column: labels}
                cells |= metadata_cells(row, columns)
                metadata[split].writerow({key: spreadsheet_safe(c) for key, c in cells.items()})
                yield StoredImage(
                    [f"{split}/{name}"], row.file, row.format, converted_name=row.converted
                )

        yield from stream.add_images(described())
        for split, spool in spools.items():
            spool.seek(0)
            yield from stream.add_file_object(f"{split}/metadata.csv", _Encoded(spool))
        yield from stream.close()


def _exported_rows(source: ExportSource) -> Iterator[ImageRow]:
    """The rows with a final label, but those the project's own split leaves out (a
    near-duplicate of a test image its training leaves out): no split folder holds them."""
    for row in source.rows():
        if row.final_labels and not (source.options.split_by_project and row.split is None):
            yield row


def _image_stream(source: ExportSource) -> ZipStream:
    """The zip the images go into: converted unless asked not to (``convert_images``)."""
    return ZipStream(
        keep_metadata=source.project.export_keep_metadata,
        convert=bool(source.options.convert_images),
        faces=export_face_boxes(source.project),
    )


def hf_labels_check(project: Project) -> None:
    """Refuse a multi-label project whose label names hold the separator."""
    if not project.multi_label:
        return
    names = project.labels.values_list("name", flat=True)
    clashing = [name for name in names if LABEL_SEPARATOR in name]
    if clashing:
        raise ValidationFailed(
            f"Label {clashing[0]!r} holds ';', which joins a multi-label image's labels in "
            "metadata.csv; rename it or choose another format.",
            field="format",
        )


def _metadata_writer(spool: IO[str], label_column: str, columns: list[str]) -> csv.DictWriter:
    fieldnames = ["file_name", "image_id", label_column, *columns]
    writer = csv.DictWriter(spool, fieldnames=fieldnames)
    writer.writeheader()
    return writer


class _Encoded:
    """A text file read back as UTF-8 bytes, in chunks."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text

    def read(self, size: int = -1, /) -> bytes:
        return self._text.read(size if size > 0 else -1).encode()
