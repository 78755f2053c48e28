"""Uploads at the caps that once took a web process past a gigabyte each, built here.

Each is small on the wire and huge decoded, and each is accepted: under the pixel cap
(100,000,000), the side cap (30,000) and the file size cap (50 MB). Used by
``bench/uploads.py`` and by the memory regression test of the upload check.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

from PIL import Image as PILImage

WEBP_SIZE = (16_383, 6_103)  # WebP's largest side, and just under 100,000,000 pixels
SIDE = 10_000  # the PNG and the JPEG: 10000 x 10000, the pixel cap exactly
ORIENTATION = 0x0112


def uploads() -> dict[str, bytes]:
    """The three files by upload name: a lossy WebP, an RGBA PNG to turn, a JPEG."""
    return {"cap.webp": webp_at_cap(), "turned.png": png_rgba_turned(), "cap.jpg": jpeg_at_cap()}


@functools.cache
def webp_at_cap() -> bytes:
    """A lossy WebP of 16383 x 6103 pixels (about 270 KB; Pillow decodes it with 1.5 GB)."""
    buffer = io.BytesIO()
    PILImage.new("RGB", WEBP_SIZE, (120, 80, 40)).save(buffer, format="WEBP", quality=50, method=0)
    return buffer.getvalue()


@functools.cache
def jpeg_at_cap() -> bytes:
    """A baseline JPEG of 10000 x 10000 pixels (about 1.5 MB)."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (SIDE, SIDE), (120, 80, 40)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@functools.cache
def png_rgba_turned(*, side: int = SIDE, exif_after_pixels: bool = False) -> bytes:
    """An RGBA PNG of side x side transparent pixels whose EXIF says: turn 90° clockwise.

    About 400 KB at 10000 a side; written row by row, never held as an image.
    """
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = bytes(1 + 4 * side)  # the filter byte, then the pixels
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    exif = PILImage.Exif()
    exif[ORIENTATION] = 6
    exif_chunk = png_chunk(b"eXIf", exif.tobytes().removeprefix(b"Exif\x00\x00"))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + (b"" if exif_after_pixels else exif_chunk)
        + png_chunk(b"IDAT", pixels)
        + (exif_chunk if exif_after_pixels else b"")
        + png_chunk(b"IEND", b"")
    )


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and checksum."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
