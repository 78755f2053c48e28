"""The export zips' members: images copied from storage, and their safe names."""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePosixPath

from django.conf import settings

from labeler.errors import ValidationFailed
from labeler.exports.zipstream import Readable, ZipStreamWriter
from labeler.images.conversion import converted_format, image_converted
from labeler.images.files import ALLOWED_FORMATS
from labeler.images.metadata import metadata_strip
from labeler.images.references import file_open

# Already compressed: deflating them again costs time and saves nothing.
COMPRESSED_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP", "HEIF", "AVIF"}
UNSAFE = re.compile(r"[^\w.-]+")


class ZipStream:
    """Members go in one after another; every method yields the archive's bytes so far.

    Images go without their private metadata (GPS, camera, owner: ``metadata_strip``)
    unless ``keep_metadata`` (the project's ``export_keep_metadata``); with ``convert``,
    HEIC and AVIF go as JPEG and GIF as PNG (``labeler.images.conversion``), which strips
    or keeps the same metadata as it writes them.

    A conversion decodes the whole photo (a 12-megapixel HEIC: most of a second), where
    the other images are copied: conversions run on ``LABELER_EXPORT_CONVERT_THREADS``
    threads meanwhile, and each converted image is written once it is ready, after the
    images read since it was asked for. At most that many are held at once (each decode
    within the decoding cap); the stream waits for one before asking for another. Use it
    as a context manager: leaving it stops the conversions still running.
    """

    def __init__(self, *, keep_metadata: bool = False, convert: bool = False) -> None:
        self._writer = ZipStreamWriter()
        self._keep_metadata = keep_metadata
        self._convert = convert
        self._threads = max(1, settings.LABELER_EXPORT_CONVERT_THREADS)
        self._pool: ThreadPoolExecutor | None = None
        self._converting: deque[tuple[Sequence[str], Future[bytes], bool]] = deque()

    def __enter__(self) -> ZipStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def written_format(self, image_format: str) -> str:
        """The format an image of ``image_format`` is written in (its file name's extension)."""
        return converted_format(image_format) if self._convert else image_format

    def add_stored_file(self, name: str, stored_name: str, image_format: str) -> Iterator[bytes]:
        """An image from storage (stored as is when already compressed)."""
        yield from self.add_image([name], stored_name, image_format)

    def add_image(
        self, names: Sequence[str], stored_name: str, image_format: str
    ) -> Iterator[bytes]:
        """An image from storage under each of ``names`` (a multi-label image's folders),
        read, stripped or converted once; a conversion is written once it is done.

        It is read whole: the import refuses images over LABELER_MAX_IMAGE_BYTES, so
        this holds one image at a time, and its size and CRC are known before its header.
        """
        written = self.written_format(image_format)
        compress = written not in COMPRESSED_FORMATS
        if written != image_format:
            if len(self._converting) >= self._threads:
                yield from self._converted(wait=True)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="export")
            future = self._pool.submit(self._image_bytes, stored_name, image_format)
            self._converting.append((names, future, compress))
            return
        yield from self._members(names, self._image_bytes(stored_name, image_format), compress)
        yield from self._converted(wait=False)

    def add_directory(self, name: str) -> Iterator[bytes]:
        """A folder, made when the zip is unpacked even if nothing goes into it."""
        yield from self._writer.iter_add_directory(name.rstrip("/") + "/")

    def add_text(self, name: str, text: str) -> Iterator[bytes]:
        """A small text file, in UTF-8, deflated."""
        yield from self._writer.iter_add(name, text.encode(), compress=True)

    def add_file_object(self, name: str, source: Readable) -> Iterator[bytes]:
        """An open file of any size, deflated."""
        yield from self._writer.iter_add_file(name, source, compress=True)

    def close(self) -> Iterator[bytes]:
        """The conversions still running, then the central directory and the end records."""
        while self._converting:
            yield from self._converted(wait=True)
        yield from self._writer.iter_close()

    def _members(self, names: Sequence[str], data: bytes, compress: bool) -> Iterator[bytes]:
        for name in names:
            yield from self._writer.iter_add(name, data, compress=compress)

    def _converted(self, *, wait: bool) -> Iterator[bytes]:
        """The conversions done (with ``wait``, the oldest at least), written in the order
        they were asked for; a failed one raises its error here."""
        while self._converting and (wait or self._converting[0][1].done()):
            names, future, compress = self._converting.popleft()
            wait = False
            yield from self._members(names, future.result(), compress)

    def _image_bytes(self, stored_name: str, image_format: str) -> bytes:
        """The stored file's bytes as they go into the zip: converted, else stripped."""
        try:
            with file_open(stored_name) as source:
                data = source.read()
        except OSError as exc:
            raise ValidationFailed(f"The stored file {stored_name} cannot be read: {exc}") from exc
        try:
            if self.written_format(image_format) != image_format:
                return image_converted(data, image_format, keep_metadata=self._keep_metadata)
            if not self._keep_metadata:
                return metadata_strip(data, image_format)
        except (OSError, ValueError, SyntaxError) as exc:
            raise ValidationFailed(f"The stored file {stored_name} cannot be read: {exc}") from exc
        return data


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
