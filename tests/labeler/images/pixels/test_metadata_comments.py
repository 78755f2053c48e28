"""Stripping leaves free text out too (JPEG COM, PNG tEXt/zTXt/iTXt, WebP XMP) on every
path that strips: ingest, exports and the display copies; and PNG, JPEG and WebP are
stripped without decoding their pixels (the compressed data copied as it is)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image as PILImage

from bench.uploads_files import png_rgba_turned
from labeler.images.pixels.files import image_check, previews_render
from labeler.images.pixels.private_metadata import metadata_strip, metadata_strip_checked
from tests.factories import image_bytes

SECRET = b"the owner's home address"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_text() -> bytes:
    """A PNG with a comment in each kind of text chunk and an EXIF orientation (6)."""
    data = image_bytes(size=(40, 20), seed=3)
    exif = PILImage.Exif()
    exif[0x0112] = 6
    chunks = (
        _png_chunk(b"eXIf", exif.tobytes())
        + _png_chunk(b"tEXt", b"Comment\0" + SECRET)
        + _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(SECRET))
        + _png_chunk(b"iTXt", b"Comment\0\0\0\0\0" + SECRET)
    )
    end = data.index(b"IDAT") - 4
    return data[:end] + chunks + data[end:]


def jpeg_with_comment() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 20), (200, 10, 10)).save(buffer, format="JPEG", comment=SECRET)
    return buffer.getvalue()


def webp_with_xmp() -> bytes:
    buffer = io.BytesIO()
    exif = PILImage.Exif()
    exif[0x0112] = 6
    xmp = b"<x:xmpmeta><dc:description>" + SECRET + b"</dc:description></x:xmpmeta>"
    PILImage.new("RGB", (40, 20), (10, 200, 10)).save(
        buffer, format="WEBP", lossless=True, exif=exif, xmp=xmp
    )
    return buffer.getvalue()


FILES = {"JPEG": jpeg_with_comment, "PNG": png_with_text, "WEBP": webp_with_xmp}


@pytest.mark.parametrize("fmt", FILES)
def test_comments_are_left_out_by_the_strip_of_exports_and_ingest(fmt):
    """What an export writes (``metadata_strip``) and what a stripping project stores
    (``metadata_strip_checked``) hold no comment, and show the same way up."""
    data = FILES[fmt]()
    assert SECRET in data or zlib.compress(SECRET) in data

    exported = metadata_strip(data, fmt)
    stored = metadata_strip_checked(image_check(data)).content

    for stripped in (exported, stored):
        assert SECRET not in stripped and zlib.compress(SECRET) not in stripped
        with PILImage.open(io.BytesIO(stripped)) as image:
            assert not {"comment", "Comment", "xmp"} & set(image.info)
            assert image.getexif().get(0x0112, 1) == (1 if fmt == "JPEG" else 6)
    assert image_check(stored).width == image_check(data).width


def test_display_copies_and_thumbnails_hold_no_comment():
    """The worker's JPEG copies are made from pixels, without the original's comment."""
    previews = previews_render(jpeg_with_comment(), display_size=16, thumbnail_size=8)

    assert previews.display is not None
    assert SECRET not in previews.display and SECRET not in previews.thumbnail


def test_a_png_is_stripped_without_decoding_its_pixels():
    """A 10000 x 10000 PNG's pixel data is copied as it is, bit for bit: the strip never
    decodes it (it used to, and hold 1 GB); the orientation stays in a small eXIf."""
    data = png_rgba_turned()
    start = data.index(b"IDAT") - 4
    pixels = data[start : data.index(b"IEND") - 4]

    stripped = metadata_strip(data, "PNG")

    assert pixels in stripped
    with PILImage.open(io.BytesIO(stripped)) as image:
        assert image.size == (10_000, 10_000) and image.info["exif"].count(b"\x01\x12") == 1


def test_a_webp_is_stripped_without_decoding_its_pixels():
    """A WebP's bitstream is copied as it is; its EXIF and XMP flags go with their chunks."""
    data = webp_with_xmp()
    bitstream = data[data.index(b"VP8L") :]
    bitstream = bitstream[: 8 + int.from_bytes(bitstream[4:8], "little")]

    stripped = metadata_strip(data, "WEBP")

    assert bitstream in stripped and b"XMP " not in stripped
    assert stripped[20] & 0x04 == 0  # VP8X: no XMP said to follow
