"""The export zips' members: images copied from storage, and their safe names."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import PurePosixPath

from django.conf import settings

from labeler.errors import ValidationFailed
from labeler.exports.zipstream import Readable, ZipStreamWriter
from labeler.images.pixels.conversion import converted_format, image_converted
from labeler.images.pixels.faces import FaceBox, faces_blur_encoded
from labeler.images.pixels.files import ALLOWED_FORMATS
from labeler.images.pixels.private_metadata import metadata_strip
from labeler.images.stored.references import file_open

# Already compressed: deflating them again costs time and saves nothing.
COMPRESSED_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP", "HEIF", "AVIF"}
UNSAFE = re.compile(r"[^\w.-]+")
logger = logging.getLogger(__name__)


# How many images ahead of the one being written a conversion may start: a HEIC at the
# end of a run of JPEGs is decoded while they are copied.
LOOKAHEAD = 64


@dataclass
class StoredImage:
    """An image to put in the zip under each of ``names`` (a multi-label image's folders);
    ``converted_name``: its converted copy, kept in storage (``Image.converted``), if any."""

    names: Sequence[str]
    stored_name: str
    format: str
    converted_name: str = ""
    converting: Future[bytes] | None = field(default=None, repr=False)


class ZipStream:
    """Members go in one after another; every method yields the archive's bytes so far.

    With ``faces`` (the project blurs them), every image goes with its faces blurred
    (``labeler.images.pixels.faces``); one whose faces are not found yet stops the export.
    Images go without their private metadata (GPS, camera, owner: ``metadata_strip``)
    unless ``keep_metadata`` (the project's ``export_keep_metadata``); with ``convert``,
    HEIC and AVIF go as JPEG and GIF as PNG (``labeler.images.pixels.conversion``), which strips
    or keeps the same metadata as it writes them.

    Without ``keep_metadata``, an image whose converted copy the worker kept when it
    prepared it (``labeler.images.delivery.converted``: the same bytes, made without metadata) is
    copied from it like any JPEG; the others are converted here. A conversion decodes the
    whole photo (a 12-megapixel HEIC: most of a second), where the other images are
    copied: ``add_images`` starts conversions up to ``LOOKAHEAD`` images ahead, on
    ``LABELER_EXPORT_CONVERT_THREADS`` threads, copies the other images meanwhile and
    writes each converted image once it is ready (so it may come later in the zip than
    the images after it). At most that many conversions are held at once, each within
    the decoding cap. Use it as a context manager: leaving it stops the conversions still
    running.
    """

    def __init__(
        self,
        *,
        keep_metadata: bool = False,
        convert: bool = False,
        faces: Callable[[str], list[FaceBox]] | None = None,
    ) -> None:
        self._writer = ZipStreamWriter()
        self._faces = faces
        self._keep_metadata = keep_metadata
        self._convert = convert
        self._threads = max(1, settings.LABELER_EXPORT_CONVERT_THREADS)
        self._pool: ThreadPoolExecutor | None = None
        # Started, not yet written: each image with its conversion.
        self._converting: deque[tuple[StoredImage, Future[bytes]]] = deque()

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
        yield from self.add_images([StoredImage([name], stored_name, image_format)])

    def add_images(self, images: Iterable[StoredImage]) -> Iterator[bytes]:
        """Images from storage, each read, stripped or converted once and written under
        each of its names; those to convert are started ahead and written once done.

        An image is read whole: the import refuses images over LABELER_MAX_IMAGE_BYTES, so
        a copy holds one image at a time, and its size and CRC are known before its header.
        """
        ahead: deque[StoredImage] = deque()
        upcoming = iter(images)
        while True:
            ahead.extend(islice(upcoming, LOOKAHEAD - len(ahead)))
            if not ahead:
                return
            self._start(ahead)
            image = ahead.popleft()
            if self._converts(image):
                while image.converting is None:  # no thread was free for it yet
                    yield from self._converted(wait=True)
                    self._start([image])
            else:
                data = self._image_bytes(image)
                yield from self._members(image.names, data, self._compress(image))
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

    def _converts(self, image: StoredImage) -> bool:
        """Whether the image is converted here (not copied as it is, nor from its copy)."""
        return self.written_format(image.format) != image.format and not self._copied(image)

    def _copied(self, image: StoredImage) -> bool:
        """Whether the image goes in as its kept converted copy: made without metadata,
        it serves only an export that leaves metadata out."""
        return self._convert and not self._keep_metadata and bool(image.converted_name)

    def _compress(self, image: StoredImage) -> bool:
        return self.written_format(image.format) not in COMPRESSED_FORMATS

    def _start(self, images: Iterable[StoredImage]) -> None:
        """Start the conversions among ``images`` that wait, while threads are free."""
        for image in images:
            if len(self._converting) >= self._threads:
                return
            if image.converting is None and self._converts(image):
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="export")
                image.converting = self._pool.submit(self._image_bytes, image)
                self._converting.append((image, image.converting))

    def _converted(self, *, wait: bool) -> Iterator[bytes]:
        """The conversions done (with ``wait``, the oldest at least), written in the order
        they were started; a failed one raises its error here."""
        while self._converting and (wait or self._converting[0][1].done()):
            image, converting = self._converting.popleft()
            wait = False
            yield from self._members(image.names, converting.result(), self._compress(image))

    def _members(self, names: Sequence[str], data: bytes, compress: bool) -> Iterator[bytes]:
        for name in names:
            yield from self._writer.iter_add(name, data, compress=compress)

    def _image_bytes(self, image: StoredImage) -> bytes:
        """The image's bytes as they go into the zip, their faces blurred where the project
        blurs faces (``faces``: the boxes of a stored file)."""
        data = self._unblurred_bytes(image)
        if self._faces is None:
            return data
        written = self.written_format(image.format)
        try:
            return faces_blur_encoded(data, self._faces(image.stored_name), written)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ValidationFailed(
                f"The stored file {image.stored_name} cannot be read: {exc}"
            ) from exc

    def _unblurred_bytes(self, image: StoredImage) -> bytes:
        """The image's bytes as they go into the zip: its kept converted copy, else the
        stored file converted, stripped or as it is.

        A kept copy that cannot be read (removed from storage by hand) is made again from
        the original, as for an image without one.
        """
        stored_name, image_format = image.stored_name, image.format
        if self._copied(image):
            try:
                return _read(image.converted_name)
            except OSError as exc:
                logger.warning("%s not read (%s): converting it", image.converted_name, exc)
        try:
            data = _read(stored_name)
        except OSError as exc:
            raise ValidationFailed(f"The stored file {stored_name} cannot be read: {exc}") from exc
        try:
            if self.written_format(image_format) != image_format:
                return image_converted(data, image_format, keep_metadata=self._keep_metadata)
            if not self._keep_metadata:
                return metadata_strip(data, image_format)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ValidationFailed(f"The stored file {stored_name} cannot be read: {exc}") from exc
        return data


def _read(stored_name: str) -> bytes:
    with file_open(stored_name) as source:
        return source.read()


def safe_file_name(image_id: int, original_name: str, image_format: str) -> str:
    """``<image id>-<original name, sanitised>.<extension of its format>``: unique, flat."""
    stem = PurePosixPath(original_name.replace("\\", "/")).stem
    stem = UNSAFE.sub("_", unicodedata.normalize("NFKC", stem)).strip("._")[:100] or "image"
    extension = ALLOWED_FORMATS.get(image_format, "bin")
    return f"{image_id}-{stem}.{extension}"


def folder_names(labels: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """A safe, distinct folder name for every label name (never '.', '..' or a path, nor
    one of the ``reserved`` names of the files beside the folders)."""
    folders: dict[str, str] = {}
    taken: set[str] = {name.lower() for name in reserved}
    for label in labels:
        base = UNSAFE.sub("_", unicodedata.normalize("NFKC", label)).strip("._")[:100] or "label"
        folder, n = base, 1
        while folder.lower() in taken:
            n += 1
            folder = f"{base}-{n}"
        taken.add(folder.lower())
        folders[label] = folder
    return folders
