"""A labelled dataset sent as one zip archive: its images, and their labels from the folder
names (ImageFolder), a CSV file, a Label Studio export or a COCO file.

The labels file is sent beside the archive or found inside it (the one ``.csv`` or
``.json`` file there). Entries are checked as uploads are (unsafe paths, bomb-like
ratios, sizes: ``labeler.images.files.archive_members``) and read one at a time. When
every image sits under one top folder (``dataset/cat/1.jpg``) that folder is dropped from
the names, so the labels match as they would on the command line run inside it.
"""

from __future__ import annotations

import json
import posixpath
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from labeler.errors import ValidationFailed
from labeler.images.files import RejectedFile, archive_members
from labeler.imports.services import ImportItem
from labeler.imports.sources import (
    IMAGE_EXTENSIONS,
    LabelMatcher,
    LabelSourceError,
    coco_labels,
    csv_labels,
    imagefolder_labels_of,
    label_studio_labels,
)

NONE, IMAGEFOLDER, CSV, LABEL_STUDIO, COCO = "none", "imagefolder", "csv", "label-studio", "coco"
LABEL_FORMATS: dict[str, str] = {
    IMAGEFOLDER: "ImageFolder: a folder per label",
    CSV: "CSV: file and label columns",
    LABEL_STUDIO: "Label Studio JSON export",
    COCO: "COCO JSON",
    NONE: "No labels: images only",
}
LABEL_FILE_SUFFIX = {CSV: ".csv", LABEL_STUDIO: ".json", COCO: ".json"}
MAX_LABELS_FILE_BYTES = 256 * 1024 * 1024
_READERS: dict[str, Callable[[Any], dict[str, list[str]]]] = {
    CSV: csv_labels,
    LABEL_STUDIO: label_studio_labels,
    COCO: coco_labels,
}


@dataclass(frozen=True)
class ArchivePlan:
    """The images an archive holds (entry name -> name as imported) and their labels."""

    names: dict[str, str]
    matcher: LabelMatcher | None
    labels_file: str  # where the labels came from, for the report ("" none)


def archive_plan(
    archive: IO[bytes], *, labels_format: str, labels_file: bytes | None = None
) -> ArchivePlan:
    """Read the archive's directory and the labels, before any image is stored.

    Raises ValidationFailed, naming the problem, for an unknown format, an unreadable
    archive, an archive without images, or labels that are missing or cannot be read.
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
            text, source = _labels_text(zipped, entries, labels_format, labels_file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ValidationFailed(f"Not a readable zip archive: {exc}", field="archive") from exc
    finally:
        archive.seek(0)
    return ArchivePlan(names, _matcher(labels_format, text, names, source), source)


def archive_items(archive: IO[bytes], plan: ArchivePlan) -> Iterator[ImportItem]:
    """Each image of the archive with its labels, read when its turn comes."""
    try:
        for member in archive_members(archive):
            name = plan.names.get(member.name)
            if name is None:
                continue
            data: bytes | RejectedFile = (
                member.data if member.data is not None else RejectedFile(member.reason)
            )
            match = plan.matcher.match(name) if plan.matcher is not None else None
            labels = match.labels if match is not None else None
            refusal = match.reason if match is not None and match.ambiguous else ""
            yield ImportItem(name, data, labels, refusal)
    except RejectedFile as exc:  # only before the first member: checked by archive_plan
        raise ValidationFailed(str(exc), field="archive") from exc


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


def _labels_text(
    zipped: zipfile.ZipFile, entries: list[str], labels_format: str, sent: bytes | None
) -> tuple[str | None, str]:
    """The labels file's text and where it came from (None for formats without one)."""
    suffix = LABEL_FILE_SUFFIX.get(labels_format)
    if suffix is None:
        return None, ""
    if sent is not None:
        if len(sent) > MAX_LABELS_FILE_BYTES:
            raise ValidationFailed(
                f"The labels file is over {MAX_LABELS_FILE_BYTES:,} bytes.", field="labels_file"
            )
        return _decoded(sent, "the labels file"), "the labels file sent"
    found = [e for e in entries if e.lower().endswith(suffix)]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ValidationFailed(
            f"The archive holds {what} {suffix} files: send the labels file beside it, "
            f"or put exactly one in the archive.",
            field="labels_file",
        )
    info = zipped.getinfo(found[0])
    if info.file_size > MAX_LABELS_FILE_BYTES:
        raise ValidationFailed(f"{found[0]} is over {MAX_LABELS_FILE_BYTES:,} bytes.")
    return _decoded(zipped.read(info), found[0]), found[0]


def _decoded(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{what} is not UTF-8 text: {exc.reason}.", field="labels_file"
        ) from exc


def _matcher(
    labels_format: str, text: str | None, names: dict[str, str], source: str
) -> LabelMatcher | None:
    files = list(names.values())
    if labels_format == NONE:
        return None
    if labels_format == IMAGEFOLDER:
        return LabelMatcher(imagefolder_labels_of(files), files=files)
    assert text is not None
    try:
        if labels_format == CSV:
            labels = csv_labels(text if "\n" in text else text + "\n")
        else:
            labels = _READERS[labels_format](_json(text))
    except LabelSourceError as exc:
        raise ValidationFailed(f"{source}: {exc}", field="labels_file") from exc
    return LabelMatcher(labels, files=files)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelSourceError(f"Not valid JSON: {exc.msg}.", line=exc.lineno) from exc
