"""A zip written onto a sink that cannot seek, drained chunk by chunk as it grows.

zipfile notices the sink has no ``tell`` and writes each member's sizes in a data
descriptor after its bytes, so nothing is ever rewritten and the archive streams.
"""

from __future__ import annotations

import re
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Protocol

from django.core.files.storage import default_storage

from labeler.errors import ValidationFailed
from labeler.images.files import ALLOWED_FORMATS

CHUNK = 1024 * 1024
# Already compressed: deflating them again costs time and saves nothing.
COMPRESSED_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP"}
UNSAFE = re.compile(r"[^\w.-]+")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Sink:
    """Collects what zipfile writes until it is drained; no seek, no tell."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class ZipStream:
    """Members go in one after another; every method yields the bytes ready so far."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", allowZip64=True)
        self._date_time = time.localtime()[:6]

    def _info(self, name: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def add_stored_file(self, name: str, stored_name: str, image_format: str) -> Iterator[bytes]:
        """Copy a file from storage in chunks (stored as is when already compressed)."""
        info = self._info(name, compress=image_format not in COMPRESSED_FORMATS)
        try:
            source = default_storage.open(stored_name, "rb")
        except OSError as exc:
            raise ValidationFailed(f"The stored file {stored_name} cannot be read: {exc}") from exc
        with source, self._zip.open(info, "w") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)
                yield self._sink.drain()
        yield self._sink.drain()

    def add_file_object(self, name: str, source: Readable) -> Iterator[bytes]:
        """Copy an open file into the archive, deflated."""
        with self._zip.open(self._info(name, compress=True), "w") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)
                yield self._sink.drain()
        yield self._sink.drain()

    def close(self) -> bytes:
        """The central directory: the archive's last bytes."""
        self._zip.close()
        return self._sink.drain()


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
