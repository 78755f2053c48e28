"""An upload's header read first, then its pixels decoded at a memory cost known before.

Checking an upload means decoding it, and an image at the pixel cap decodes to 300 to
400 MB (Pillow keeps four bytes a pixel for any image of several bands), several times
that inside Pillow's WebP decoder. So ``image_open`` reads the header only (format, size,
mode) and says what checking the pixels will hold (``Opened.cost``), for the caller to
refuse before anything is decoded; ``image_verify`` then decodes as cheaply as the format
allows:

- JPEG at 1/8 scale (``draft``). libjpeg still reads every coefficient, so a truncated
  or corrupt file fails as it would at full size; a progressive or multi-scan file also
  holds all its coefficients (2 bytes a sample), since libjpeg needs them at once.
- PNG inflated and checked row by row, never held (``labeler.images.pixels.png_data``).
  Its previews and model inputs are shrunk by libvips as its rows stream past
  (``labeler.images.pixels.vips``), holding some 2,000 rows and the output, never the image,
  where that holds less than Pillow's whole decode (an interlaced PNG is decoded whole).
- WebP decoded by libwebp straight to 1/8 scale (``labeler.images.pixels.webp``), plus the
  whole-image buffers libwebp keeps for lossless data and for alpha. An animated WebP,
  or any where libwebp cannot be reached, is decoded by Pillow, at Pillow's cost.
- GIF, BMP and TIFF decoded whole: what they cost is their decoded size; HEIC (through
  pillow-heif) and AVIF whole too, plus what their decoders hold beside. An AVIF costs
  the frames its AV1 data holds (``labeler.images.pixels.avif``), whatever its header says.

This module is the only one that opens images with Pillow (a test walks the code for
any other): every decode (the upload check, previews, model inputs, metadata stripping,
exports) goes through ``image_open`` and is refused, before any pixel is decoded, when
it would hold more than LABELER_MAX_DECODE_BYTES (``DecodeRefused``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, ImageFile, ImageOps
from PIL import Image as PILImage

from labeler.images.pixels.avif import avif_frame_pixels
from labeler.images.pixels.decode_costs import (
    PILLOW_WEBP_BYTES,
    SCALE,
    ceil_div,
    extra_cost,
    jpeg_cost,
    jpeg_scan,
    megabytes,
    pixel_bytes,
    reduced_bytes,
)
from labeler.images.pixels.heif import heif_frame_pixels
from labeler.images.pixels.png_data import STEP, png_data_check, png_decoded_row, png_exif
from labeler.images.pixels.runtime_settings import max_decode_bytes, max_image_pixels
from labeler.images.pixels.vips import vips_available, vips_cost, vips_held, vips_reduce
from labeler.images.pixels.webp import WebPHeader, webp_decode, webp_decoder_available, webp_header


class DecodeRefused(OSError):
    """An image refused before decoding: it would hold more memory than allowed, or holds
    larger frames than its header says. The message says which, for the uploader."""


@dataclass(frozen=True)
class Opened:
    """An image's header: what it is, and what checking its pixels will hold in memory."""

    format: str
    width: int
    height: int
    kind: str  # the format as the cost depends on it, to name in a refusal
    cost: int  # bytes held while the pixels are checked
    image: ImageFile.ImageFile | None = None  # Pillow's, opened lazily (no pixels read yet)
    webp: WebPHeader | None = None
    complete: bool = True  # a JPEG: whether its markers run to its end marker
    streamed: int = 0  # what libvips holds shrinking it row by row (0: it cannot)


def image_open(data: bytes) -> Opened:
    """Read the header of an image, and what checking its pixels will cost.

    Raises UnidentifiedImageError for what is no image Pillow reads, and Pillow's
    DecompressionBombError above twice ``Image.MAX_IMAGE_PIXELS``, as Pillow does.
    """
    max_pixels = max_image_pixels()
    # Pillow refuses, while reading the header, images over twice its own cap: ours.
    PILImage.MAX_IMAGE_PIXELS = max_pixels
    header = webp_header(data)
    if header is not None:
        return _webp_opened(header)
    image = PILImage.open(io.BytesIO(data))
    fmt = image.format or ""
    width, height = image.size
    if fmt in ("AVIF", "HEIF"):
        _frames_check(data, width, height, max_pixels=max_pixels)
    if fmt in ("JPEG", "MPO"):
        scans, complete = jpeg_scan(data)
        kind, cost = jpeg_cost(image, scans)
        return Opened(fmt, width, height, kind, cost, image=image, complete=complete)
    elif fmt == "PNG":
        streamed = vips_held(png_decoded_row(data, width))
        return Opened(fmt, width, height, "PNG", 3 * STEP, image=image, streamed=streamed)
    else:
        kind, cost = fmt, width * height * pixel_bytes(image.mode) + extra_cost(image, data)
    return Opened(fmt, width, height, kind, cost, image=image)


def _frames_check(data: bytes, width: int, height: int, *, max_pixels: int) -> None:
    """Refuse an AVIF or HEIC whose coded frames hold more pixels than its header says
    (beyond what coding pads: a block's rows and columns, an alpha plane), or the cap."""
    frames = avif_frame_pixels(data) + heif_frame_pixels(data)
    if frames > 2 * (width + 64) * (height + 64) or frames > 2 * max_pixels:
        raise DecodeRefused(
            f"The image's header says {width}x{height} pixels but its data holds "
            f"{frames:,} pixels; the limit is {max_pixels:,} pixels."
        )


def decode_cost_check(opened: Opened, cost: int | None = None) -> None:
    """Refuse, before decoding, a decode that would hold more than LABELER_MAX_DECODE_BYTES
    (``cost``; by default checking the pixels, ``opened.cost``)."""
    cost = opened.cost if cost is None else cost
    limit = max_decode_bytes()
    if cost > limit:
        raise DecodeRefused(
            f"Decoding this {opened.width}x{opened.height} {opened.kind} would take "
            f"{megabytes(cost)} of memory; the limit is {megabytes(limit)} per image. "
            "Send it smaller, or in another format."
        )


def image_verify(opened: Opened, data: bytes) -> int:
    """Decode the pixels as ``opened.cost`` allows; returns the EXIF orientation (1: none).

    Raises OSError, SyntaxError, ValueError or EOFError for a truncated or corrupt file.
    """
    if opened.webp is not None:
        return _webp_verify(opened, data)
    image = opened.image
    assert image is not None
    if opened.format == "PNG":
        return _png_verify(image, data)
    if opened.format in ("JPEG", "MPO"):
        image.draft(image.mode, (max(1, opened.width // SCALE), max(1, opened.height // SCALE)))
    image.load()
    return _orientation_value(image.getexif())


def image_header_check(opened: Opened) -> int:
    """What can be checked of a photo without decoding it; returns the EXIF orientation.

    A JPEG's markers are walked to its end marker, so a file cut short is refused at
    once; HEIC and AVIF are read as far as their container. Their pixels are decoded
    once, by the worker that renders the previews (``files.previews_render``), which
    notes an image it cannot decode (``Image.problem``).

    Raises OSError for a JPEG that ends before its image does.
    """
    image = opened.image
    assert image is not None
    if opened.format in ("JPEG", "MPO"):
        if not opened.complete:
            raise OSError("the file ends before the image does")
        return _orientation_value(image.getexif())  # read from the header: no pixels
    return _orientation(image.info)


# A JPEG's reduced decode is kept as it comes when it is at least this share of the size
# asked for: a 4032 x 3024 photo shown at up to 2048 pixels is decoded at half scale
# (2016 x 1512) and kept so, not decoded whole to be shrunk by 32 pixels; a 1600-pixel one
# shown at 1000 is still decoded whole (its half, 800, would be a fifth too small).
DRAFT_SLACK = 0.95


def image_decode_reduced(data: bytes, size: int) -> PILImage.Image:
    """The image as RGB no larger than size x size, decoded as small as its format allows
    (a JPEG at 1/2, 1/4 or 1/8 scale, then no smaller than ``DRAFT_SLACK`` of the size).

    Raises DecodeRefused, before decoding, when that would hold more than the cap.
    """
    opened = image_open(data)
    header = opened.webp
    if header is not None and not header.animated and webp_decoder_available():
        decode_cost_check(opened, opened.cost + 3 * size * size)
        scale = max(header.width / size, header.height / size, 1.0)
        box = (max(1, round(header.width / scale)), max(1, round(header.height / scale)))
        decoded = webp_decode(data, box)
        if decoded is not None:
            return decoded
    width, height = opened.width, opened.height
    fitted = _fitted(width, height, size)
    if _streams(opened, fitted):
        decode_cost_check(opened, vips_cost(opened.streamed, fitted))
        return vips_reduce(data, fmt=opened.format, source=(width, height), size=fitted)
    # JPEG: decoded at 1/2, 1/4 or 1/8 scale, the most that still covers the box (a box
    # of the image's own shape: Pillow reduces by the smaller of the two ratios).
    scale = max(width / (size * DRAFT_SLACK), height / (size * DRAFT_SLACK), 1.0)
    rgb = _decoded(opened, data, (max(1, int(width / scale)), max(1, int(height / scale))), "RGB")
    rgb.thumbnail((size, size), reducing_gap=2.0)
    return rgb


def image_reduced_cost(opened: Opened, size: int) -> int:
    """What ``image_decode_reduced(data, size)`` will hold, known from the header alone."""
    width, height = opened.width, opened.height
    if opened.webp is not None and not opened.webp.animated and webp_decoder_available():
        return opened.cost + 3 * size * size
    fitted = _fitted(width, height, size)
    if _streams(opened, fitted):
        return vips_cost(opened.streamed, fitted)
    mode = opened.image.mode if opened.image is not None else "RGBA"
    if opened.format in ("JPEG", "MPO"):  # as Pillow's draft picks its scale
        ratio = min(width / (size * DRAFT_SLACK), height / (size * DRAFT_SLACK))
        factor = next(f for f in (8, 4, 2, 1) if ratio >= f or f == 1)
        width, height = ceil_div(width, factor), ceil_div(height, factor)
    converted = width * height * 4 if mode != "RGB" else 0
    if opened.format in _CHECKED_REDUCED:
        return opened.cost + width * height * pixel_bytes(mode) + converted
    return opened.cost + converted


def image_decode(
    data: bytes, *, mode: str | None = None, box: tuple[int, int] | None = None
) -> PILImage.Image:
    """The image in ``mode`` (None: its own), decoded no smaller than ``box`` where the
    format can reduce while decoding (a JPEG's draft), whole otherwise (``box`` None);
    not turned, without metadata.

    Raises DecodeRefused, before decoding, when that would hold more than the cap.
    """
    opened = image_open(data)
    header = opened.webp
    if box is not None and header is not None and not header.animated:
        # libwebp scales while it decodes, as a JPEG's draft: no smaller than the box.
        scale = max(min(header.width / box[0], header.height / box[1]), 1.0)
        size = (max(1, round(header.width / scale)), max(1, round(header.height / scale)))
        decode_cost_check(opened, opened.cost + 7 * size[0] * size[1])
        decoded = webp_decode(data, size)
        if decoded is not None:
            return decoded if mode in (None, "RGB") else decoded.convert(mode)
    if box is not None and mode in ("RGB", "L"):
        size = _covering(opened.width, opened.height, box)
        if _streams(opened, size):
            decode_cost_check(opened, vips_cost(opened.streamed, size))
            rgb = vips_reduce(
                data, fmt=opened.format, source=(opened.width, opened.height), size=size
            )
            return rgb if mode == "RGB" else rgb.convert(mode)
    return _decoded(opened, data, box, mode)


def _streams(opened: Opened, size: tuple[int, int]) -> bool:
    """Whether libvips shrinks this image to ``size`` as its rows stream past: it can,
    the image is larger, and that holds less than Pillow's decode of the whole image."""
    if not opened.streamed or (opened.width, opened.height) == size:
        return False
    whole = opened.width * opened.height * pixel_bytes(opened.image.mode if opened.image else "")
    return vips_cost(opened.streamed, size) < whole and vips_available()


def _fitted(width: int, height: int, size: int) -> tuple[int, int]:
    """The size Pillow's ``thumbnail((size, size))`` makes of width x height."""
    if width <= size and height <= size:
        return width, height
    aspect = width / height
    if aspect <= 1:  # as Pillow rounds: the side that keeps the aspect closest
        near = (math.floor(size * aspect), math.ceil(size * aspect))
        return max(min(near, key=lambda n: abs(aspect - n / size)), 1), size
    near = (math.floor(size / aspect), math.ceil(size / aspect))
    return size, max(min(near, key=lambda n: 0 if n == 0 else abs(aspect - size / n)), 1)


def _covering(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """The image's size shrunk, its shape kept, no smaller than ``box`` (as a draft)."""
    scale = max(min(width / box[0], height / box[1]), 1.0)
    return max(1, round(width / scale)), max(1, round(height / scale))


def image_decode_upright(data: bytes, *, mode: str | None = None) -> PILImage.Image:
    """The whole image in ``mode`` (None: its own), turned as its EXIF says, without
    metadata.

    Raises DecodeRefused, before decoding, when that would hold more than the cap.
    """
    return _decoded(image_open(data), data, None, mode, upright=True)


def image_decode_reduced_upright(data: bytes, size: int) -> PILImage.Image:
    """``image_decode_reduced`` (RGB, no larger than size x size) turned as its EXIF says.

    Raises DecodeRefused, before decoding, when that would hold more than the cap.
    """
    rgb = image_decode_reduced(data, size)
    turn = TURNS.get(image_orientation(data))
    return rgb.transpose(turn) if turn is not None else rgb


def image_whole_check(data: bytes) -> None:
    """Refuse (``DecodeRefused``) an image whose decode at full size, as RGBA, would hold
    more than the cap: for a decoder that cannot reduce (the GPU's nvJPEG)."""
    opened = image_open(data)
    decode_cost_check(opened, opened.width * opened.height * 4)


def image_exif(data: bytes) -> PILImage.Exif:
    """The image's EXIF, read from its header: no pixels are decoded (a PNG's eXIf chunk
    is found wherever it is, where Pillow would decode the pixels to look past them)."""
    header = webp_header(data)
    if header is not None:
        return _carrier({"exif": header.exif, "xmp": header.xmp}).getexif()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        with PILImage.open(io.BytesIO(data)) as image:
            info = dict(image.info)
        info.setdefault("exif", png_exif(data))
        return _carrier(info).getexif()
    with PILImage.open(io.BytesIO(data)) as image:
        return image.getexif()


def image_has_metadata(data: bytes) -> bool:
    """Whether the image carries EXIF, XMP or a comment (read from its header)."""
    with PILImage.open(io.BytesIO(data)) as image:
        keys = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "description")
        if any(image.info.get(key) for key in keys):
            return True
    return bool(image_exif(data))


def image_orientation(data: bytes) -> int:
    """The EXIF orientation (1: upright, or none said), read without decoding pixels."""
    return _orientation_value(image_exif(data))


def _decoded(
    opened: Opened,
    data: bytes,
    box: tuple[int, int] | None,
    mode: str | None,
    *,
    upright: bool = False,
) -> PILImage.Image:
    """Decode as ``image_decode`` says (``box`` None: whole; ``mode`` None: its own), and
    turn it as its EXIF says where ``upright``; the decode's cost checked first."""
    with PILImage.open(io.BytesIO(data)) if opened.image is None else opened.image as image:
        if box is not None:
            image.draft(mode, box)  # JPEG only: the others ignore it
        width, height = image.size
        pixels = width * height * pixel_bytes(image.mode)
        as_loaded = mode == image.mode and not upright  # the decode itself is handed back
        converted = 0 if as_loaded else width * height * 4  # converted, copied or turned
        if upright and mode not in (None, image.mode):
            converted += width * height * 4  # turned, then converted
        held = opened.cost if opened.format not in _CHECKED_REDUCED else opened.cost + pixels
        decode_cost_check(opened, held + converted)
        image.load()
        # Otherwise a copy, not the file's image: Pillow's writers copy some tags of a file
        # they read (a TIFF's XMP and IPTC) into what is saved from it. Turned once loaded:
        # Pillow turns some (a TIFF's tiles) itself while loading, and says so then.
        if as_loaded:
            result: PILImage.Image = image
        elif upright:
            result = ImageOps.exif_transpose(image)
            if mode not in (None, result.mode):
                result = result.convert(mode)
        else:
            result = image.copy() if mode in (None, image.mode) else image.convert(mode)
    result.info = {}  # comments and metadata stay with the original
    return result


# Formats whose ``Opened.cost`` is that of a reduced or streamed check, not of a decode.
_CHECKED_REDUCED = frozenset({"PNG", "JPEG", "MPO", "WEBP"})
# What turns an image upright, by EXIF orientation (as ImageOps.exif_transpose does).
TURNS = {
    2: PILImage.Transpose.FLIP_LEFT_RIGHT,
    3: PILImage.Transpose.ROTATE_180,
    4: PILImage.Transpose.FLIP_TOP_BOTTOM,
    5: PILImage.Transpose.TRANSPOSE,
    6: PILImage.Transpose.ROTATE_270,
    7: PILImage.Transpose.TRANSVERSE,
    8: PILImage.Transpose.ROTATE_90,
}


def _webp_opened(header: WebPHeader) -> Opened:
    width, height = header.width, header.height
    limit = PILImage.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        raise PILImage.DecompressionBombError(
            f"Image size ({width * height} pixels) exceeds limit of {2 * limit} pixels, "
            "could be decompression bomb DOS attack."
        )
    if header.animated or not webp_decoder_available():
        kind = "animated WebP" if header.animated else "WebP"
        cost = width * height * PILLOW_WEBP_BYTES
        return Opened("WEBP", width, height, kind, cost, webp=header)
    cost = reduced_bytes(width, height, 3) + width * 256  # the output, libwebp's rows
    if header.lossless:
        kind, cost = "lossless WebP", cost + 4 * width * height
    elif header.alpha:
        kind, cost = "WebP with transparency", cost + 5 * width * height
    else:
        kind = "WebP"
    return Opened("WEBP", width, height, kind, cost, webp=header)


def _webp_verify(opened: Opened, data: bytes) -> int:
    header = opened.webp
    assert header is not None
    if not header.animated and webp_decoder_available():
        webp_decode(data, (ceil_div(opened.width, SCALE), ceil_div(opened.height, SCALE)))
        return _orientation({"exif": header.exif, "xmp": header.xmp})
    with PILImage.open(io.BytesIO(data)) as image:
        image.load()
        return _orientation_value(image.getexif())


def _png_verify(image: ImageFile.ImageFile, data: bytes) -> int:
    tile = image.tile[0] if image.tile else None
    if tile is None or tile.extents is None:
        raise OSError("no image data in the PNG file")
    x0, y0, x1, y1 = tile.extents
    exif = png_data_check(data, start=tile.offset, size=(x1 - x0, y1 - y0))
    info = dict(image.info)
    if exif is not None:
        info.setdefault("exif", exif)
    # Not image.getexif(): for a PNG it decodes the pixels, to look for an eXIf chunk
    # after them, which png_data_check has just read.
    return _orientation(info)


def _orientation(info: Mapping[Any, Any]) -> int:
    """The orientation Pillow reads from these metadata (EXIF, else XMP), with no pixels."""
    return _orientation_value(_carrier(info).getexif())


def _carrier(info: Mapping[Any, Any]) -> PILImage.Image:
    """A 1-pixel image holding these metadata, for Pillow to read them without pixels."""
    keys = ("exif", "xmp", "XML:com.adobe.xmp", "Raw profile type exif")
    carrier = PILImage.new("1", (1, 1))
    carrier.info = {key: info[key] for key in keys if info.get(key) is not None}
    return carrier


def _orientation_value(exif: PILImage.Exif) -> int:
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) else 1
