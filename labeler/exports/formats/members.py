"""The export zips' members: images copied from storage, and their safe names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from labeler.errors import ValidationFailed
from labeler.exports.zipstream import Readable, ZipStreamWriter
from labeler.images.files import ALLOWED_FORMATS
from labeler.images.metadata import metadata_strip
from labeler.images.references import file_open

# Already compressed: deflating them again costs time and saves nothing.
COMPRESSED_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP"}
UNSAFE = re.compile(r"[^\w.-]+")


class ZipStream:
    """Members go in one after another; every method yields the archive's bytes so far.

    Images go without their private metadata (GPS, camera, owner: ``metadata_strip``)
    unless ``keep_metadata`` (the project's ``export_keep_metadata``).
    """

    def __init__(self, *, keep_metadata: bool = False) -> None:
        self._writer = ZipStreamWriter()
        self._keep_metadata = keep_metadata

    def add_stored_file(self, name: str, stored_name: str, image_format: str) -> Iterator[bytes]:
        """An image from storage (stored as is when already compressed).

        It is read whole: the import refuses images over LABELER_MAX_IMAGE_BYTES, so
        this holds one image at a time, and its size and CRC are known before its header.
        """
        try:
            with file_open(stored_name) as source:
                data = source.read()
        except OSError as exc:
            raise ValidationFailed(f"The stored file {stored_name} cannot be read: {exc}") from exc
        if not self._keep_metadata:
            try:
                data = metadata_strip(data, image_format)
            except (OSError, ValueError, SyntaxError) as exc:
                raise ValidationFailed(
                    f"The stored file {stored_name} cannot be read: {exc}"
                ) from exc
        compress = image_format not in COMPRESSED_FORMATS
        yield from self._writer.iter_add(name, data, compress=compress)

    def add_file_object(self, name: str, source: Readable) -> Iterator[bytes]:
        """An open file of any size, deflated."""
        yield from self._writer.iter_add_file(name, source, compress=True)

    def close(self) -> Iterator[bytes]:
        """The central directory and the end records: the archive's last bytes."""
        yield from self._writer.iter_close()


def safe_file_name(image_id: int, original_name: str, image_format: str) -> str:
    """``<image id>-<original name, sanitised>.<extension of its format>``: unique, flat."""
    stem = PurePosixPath(original_name.replace("\\", "/")).stem
    stem = UNSAFE.sub("_", unicodedata.normalize("NFKC", stem)).strip("._")[:100] or "image"
    extension = ALLOWED_FORMATS.get(image_format, "bin")
    return f"{image_id}-{stem}.{extension}"


def folder_names(labels: Iterable[str]) -> dict[str, str]:
    """A safe, distinct folder name for every label name (never '.', '..' or a path)."""
    folders: dict[str, str] = {}
    taken: set[str] = set()
    for label in labels:
        base = UNSAFE.sub("_", unicodedata.normalize("NFKC", label)).strip("._")[:100] or "label"
        folder, n = base, 1
        while folder.lower() in taken:
            n += 1
            folder = f"{base}-{n}"
        taken.add(folder.lower())
        folders[label] = folder
    return folders
