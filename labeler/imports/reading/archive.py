"""A labelled dataset sent as one zip archive: its images, and their labels from the folder
names (ImageFolder), a CSV file, our JSON or JSON Lines export, a Label Studio export or a
COCO file.

The labels file is sent beside the archive or found inside it (the one ``.csv``,
``.json`` or ``.jsonl`` file there); either way ``labels_file_load`` reads it, the member
as a stream that may not inflate past its limits. Entries are checked as uploads are
(unsafe paths, bomb-like ratios, sizes: ``labeler.images.archives.archive_members``) and read
one at a time; the files that are no image are reported, each with why it was skipped.
When every image sits under one top folder (``dataset/cat/1.jpg``) that folder is dropped
from the names, so the labels match as they would on the command line run inside it.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass, field
from typing import IO

from labeler.errors import ValidationFailed
from labeler.imports.reading.matching import label_hashes
from labeler.imports.reading.metadata_in import MetadataIn
from labeler.imports.reading.records import RecordsFile
from labeler.imports.reading.sources import (
    COCO,
    CSV,
    IMAGE_EXTENSIONS,
    JSON,
    JSONL,
    LABEL_FILE_SUFFIX,
    LABEL_STUDIO,
    LabelMatcher,
    LabelSourceError,
    LabelsSource,
    imagefolder_labels_of,
    labels_source_read,
)

NONE, IMAGEFOLDER = "none", "imagefolder"
_TITLES: dict[str, str] = {
    IMAGEFOLDER: "ImageFolder: a folder per label",
    CSV: "CSV: file and label columns",
    "tsv": "TSV: file and label columns, tab-separated",
    "csv-annotators": "CSV: a file column and a column per annotator",
    JSON: "JSON: our export (images with file_name and final_labels)",
    JSONL: "JSON Lines: our export (an image a line)",
    LABEL_STUDIO: "Label Studio JSON export (each annotator's labels)",
    "label-studio-csv": "Label Studio CSV export",
    "label-studio-tsv": "Label Studio TSV export",
    COCO: "COCO JSON",
    "cvat-xml": "CVAT for images 1.1 XML",
    "labelbox-ndjson": "Labelbox NDJSON export",
    "fiftyone": "FiftyOne image classification dataset (labels.json)",
}
# Every labels format the loader reads, then the folder names, then none.
LABEL_FORMATS: dict[str, str] = {
    **{IMAGEFOLDER: _TITLES[IMAGEFOLDER]},
    **{name: _TITLES.get(name, name) for name in LABEL_FILE_SUFFIX},
    NONE: "No labels: images only",
}


@dataclass(frozen=True)
class ArchiveContents:
    """The images an archive holds (entry name -> name as imported) and their labels."""

    names: dict[str, str]
    matcher: LabelMatcher | None
    labels_file: str  # where the labels came from, for the report ("" none)
    skipped: dict[str, str] = field(default_factory=dict)  # entry name -> why
    labels: dict[str, list[str]] | RecordsFile | None = None  # as the labels file gave them
    metadata: dict[str, MetadataIn] = field(default_factory=dict)  # by the labels' keys

    @property
    def files(self) -> int:
        """Every file the archive holds: the images and the files skipped."""
        return len(self.names) + len(self.skipped)


def archive_read(
    archive: IO[bytes], *, labels_format: str, labels_file: IO[bytes] | bytes | None = None
) -> ArchiveContents:
    """Read the archive's directory and the labels, before any image is stored.

    Raises ValidationFailed, naming the problem (and the labels file's record), for an
    unknown format, an unreadable archive, an archive without images, or labels that are
    missing or cannot be read: nothing is stored then.
    """
    if labels_format not in LABEL_FORMATS:
        known = ", ".join(LABEL_FORMATS)
        raise ValidationFailed(
            f"labels_format must be one of {known}, not {labels_format!r}.", field="labels_format"
        )
    try:
        with zipfile.ZipFile(archive) as zipped:
            entries = [e for e in zipped.namelist() if not _skipped(e)]
            names = _image_names(entries, labels_format)
            if not names:
                raise ValidationFailed(
                    "The archive holds no images (.jpg, .png, .webp, ...).", field="archive"
                )
            read, source = _labels(zipped, entries, labels_format, labels_file)
            labels = read.labels if read is not None else None
            if labels_format == IMAGEFOLDER:
                labels = imagefolder_labels_of(names.values())
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise ValidationFailed(f"Not a readable zip archive: {exc}", field="archive") from exc
    finally:
        archive.seek(0)
    skipped = {e: _skip_reason(e) for e in entries if e not in names and e != source}
    metadata = read.metadata if read is not None else {}
    matcher = _matcher(labels_format, labels, names)
    return ArchiveContents(names, matcher, source, skipped, labels, metadata)


def _skipped(entry: str) -> bool:
    """Folders, and what archivers add beside the files (macOS forks, hidden files)."""
    parts = entry.split("/")
    return entry.endswith("/") or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _image_names(entries: list[str], labels_format: str) -> dict[str, str]:
    images = [e for e in entries if posixpath.splitext(e)[1].lower() in IMAGE_EXTENSIONS]
    tops = {e.split("/", 1)[0] for e in images}
    if len(tops) == 1 and all("/" in e for e in images):
        stripped = {e: e.split("/", 1)[1] for e in images}
        # An ImageFolder of a single label keeps its folder: it is the label.
        if labels_format != IMAGEFOLDER or any("/" in s for s in stripped.values()):
            return stripped
    return {e: e for e in images}


def _labels(
    zipped: zipfile.ZipFile,
    entries: list[str],
    labels_format: str,
    sent: IO[bytes] | bytes | None,
) -> tuple[LabelsSource | None, str]:
    """The labels file's labels and metadata, and where they came from (None for formats
    without one)."""
    suffix = LABEL_FILE_SUFFIX.get(labels_format)
    if suffix is None:
        return None, ""
    if sent is not None:
        return _loaded(sent, labels_format, "the labels file sent"), "the labels file sent"
    found = [e for e in entries if e.lower().endswith(suffix)]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ValidationFailed(
            f"The archive holds {what} {suffix} files: send the labels file beside it, "
            f"or put exactly one in the archive.",
            field="labels_file",
        )
    info = zipped.getinfo(found[0])
    with zipped.open(info) as member:
        loaded = _loaded(member, labels_format, found[0], packed_size=info.compress_size)
    return loaded, found[0]


def _loaded(
    source: IO[bytes] | bytes, labels_format: str, name: str, packed_size: int | None = None
) -> LabelsSource:
    try:
        return labels_source_read(source, labels_format=labels_format, packed_size=packed_size)
    except LabelSourceError as exc:
        raise ValidationFailed(f"{name}: {exc}", field="labels_file") from exc


def _skip_reason(entry: str) -> str:
    """Why an entry that is neither an image nor the labels file is not imported."""
    extension = posixpath.splitext(entry)[1].lower() or "no extension"
    known = ", ".join(sorted(IMAGE_EXTENSIONS))
    return f"Skipped: not an image file ({extension}); images are {known}."


def _matcher(
    labels_format: str, labels: dict[str, list[str]] | RecordsFile | None, names: dict[str, str]
) -> LabelMatcher | None:
    files = list(names.values())
    if labels_format == NONE:
        return None
    assert labels is not None
    if isinstance(labels, RecordsFile):
        return LabelMatcher(labels.images, files=files, hashes=label_hashes(labels.images))
    return LabelMatcher(labels, files=files)
