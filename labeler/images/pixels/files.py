"""Checking uploaded bytes (real, complete, reasonably sized images) and rendering their previews.

Free of Django: the caps are read through ``runtime_settings``, as the decoder's are.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import ExifTags, UnidentifiedImageError
from PIL import Image as PILImage

from labeler.images.pixels.decoding import (
    DecodeRefused,
    Opened,
    decode_cost_check,
    image_decode_reduced,
    image_exif,
    image_header_check,
    image_open,
    image_reduced_cost,
    image_verify,
)
from labeler.images.pixels.formats import ALLOWED_FORMATS
from labeler.images.pixels.model_inputs import TURNS
from labeler.images.pixels.perceptual import ImageHashes, image_hashes
from labeler.images.pixels.runtime_settings import (
    display_size,
    max_image_bytes,
    max_image_pixels,
    max_image_side,
)

# Photos: checked up to their pixels when uploaded (``image_header_check``), decoded by
# the worker that renders their previews. The upload answers once the file is stored.
PIXELS_LATER = frozenset({"JPEG", "MPO", "HEIF", "AVIF"})
_TURNED_SIDEWAYS = (5, 6, 7, 8)  # those that swap width and height


# What decoding a damaged image raises (UnidentifiedImageError is an OSError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, PILImage.DecompressionBombError)


class RejectedFile(Exception):
    """A file that cannot become an image, with the reason shown to the uploader."""


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed every check, ready to store."""

    content: bytes
    sha256: str
    width: int
    height: int
    format: str
    extension: str


def image_check(data: bytes) -> CheckedImage:
    """Check that the bytes are a whole image of a format we accept, within the caps.

    The header is read first (format, size, what decoding will hold) and refused there
    when over a cap; only then are the pixels decoded, reduced where the format allows
    (``labeler.images.pixels.decoding``), never holding more than LABELER_MAX_DECODE_BYTES.
    Photos (``PIXELS_LATER``) are checked as far as their headers and a JPEG to its end
    marker here; their pixels are decoded once, by the worker that renders the previews.
    The bytes are kept as sent: an image whose EXIF says to turn it is shown and trained
    on upright, and its width and height here are those once turned.

    Raises RejectedFile for files over the size cap, non-images, formats we do not
    accept, images above the pixel cap or the decoding cap, and truncated or corrupt files
    (for photos: cut short, or with a corrupt header).
    """
    max_bytes = max_image_bytes()
    if len(data) > max_bytes:
        raise RejectedFile(f"File is {len(data):,} bytes; the limit is {max_bytes:,}.")
    if not data:
        raise RejectedFile("File is empty.")
    max_pixels = max_image_pixels()
    try:
        with warnings.catch_warnings():
            # Between the cap and twice the cap our own check below refuses, with the size.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            opened = image_open(data)
            if opened.format not in ALLOWED_FORMATS:
                raise RejectedFile(
                    f"{opened.format or 'This'} format is not accepted; use one of "
                    f"{', '.join(sorted(ALLOWED_FORMATS))}."
                )
            _dimensions_check(opened.width, opened.height, max_pixels=max_pixels)
            _cost_check(opened)
            if opened.format in PIXELS_LATER:
                orientation = image_header_check(opened)
            else:
                orientation = image_verify(opened, data)
    except RejectedFile:
        raise
    except DecodeRefused as exc:
        raise RejectedFile(str(exc)) from exc
    except PILImage.DecompressionBombError as exc:
        raise RejectedFile(
            f"Image is too large to decode safely; the limit is {max_pixels:,} pixels."
        ) from exc
    except UnidentifiedImageError as exc:
        raise RejectedFile("Not an image file (or a format we cannot read).") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise RejectedFile(f"Image file is truncated or corrupt: {exc}") from exc
    turned = orientation in _TURNED_SIDEWAYS
    return CheckedImage(
        content=data,
        sha256=hashlib.sha256(data).hexdigest(),
        width=opened.height if turned else opened.width,
        height=opened.width if turned else opened.height,
        format=opened.format,
        extension=ALLOWED_FORMATS[opened.format],
    )


def _dimensions_check(width: int, height: int, *, max_pixels: int) -> None:
    max_side = max_image_side()
    if width * height > max_pixels:
        raise RejectedFile(f"Image is {width}x{height} pixels; the limit is {max_pixels:,} pixels.")
    if max(width, height) > max_side:
        raise RejectedFile(
            f"Image is {width}x{height} pixels; the limit is {max_side:,} pixels a side."
        )


def _cost_check(opened: Opened) -> None:
    """Refuse, before decoding, an image whose check, or whose previews' decode in the
    worker, would hold more than the decoding cap (``decoding.decode_cost_check``).

    A request's files (and an archive's) are checked one after another, each released
    before the next, so what a request holds at once is one file's check. An image whose
    previews could never be made is refused here, with a 4xx, not stored to fail later.
    The previews' cost is the decoder's (``image_reduced_cost``): a large PNG's is that of
    libvips shrinking its rows as they stream past, so PNGs are taken up to the pixel cap.
    """
    previews = image_reduced_cost(opened, display_size())
    decode_cost_check(opened, max(opened.cost, previews))


# Formats a browser shows as they are; others are shown through their display copy.
BROWSER_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "AVIF"})


@dataclass(frozen=True)
class Previews:
    """What the worker makes of a stored original: JPEG bytes, upright, without EXIF."""

    thumbnail: bytes
    display: bytes | None  # None: the original is shown as it is
    hashes: ImageHashes | None = (
        None  # of the thumbnail's pixels (labeler.images.pixels.perceptual)
    )


def previews_render(
    data: bytes,
    *,
    display_size: int,
    thumbnail_size: int,
    with_pixels: Callable[[PILImage.Image], object] | None = None,
    upright: PILImage.Image | None = None,
    blur: Callable[[PILImage.Image], PILImage.Image] | None = None,
) -> Previews:
    """The thumbnail and, where the original cannot be shown as it is, the display copy.

    The original stays as it was sent. A display copy is made when the original is larger
    than ``display_size`` a side, carries a GPS position (a copy has no EXIF at all) or is
    a format browsers do not show (HEIC, TIFF). Both come from one decode, reduced as far
    as the format allows (a 12-megapixel JPEG at half scale), turned as the EXIF says;
    ``with_pixels`` is handed that decode too (the model inputs are made from it), before
    the thumbnail is shrunk from it. ``upright``: the whole image decoded and turned
    already (for its converted copy, ``labeler.images.delivery.converted``), shrunk in place
    instead of decoding ``data`` again. ``blur``: what blurs the faces of the decode
    (``labeler.images.pixels.faces``), applied to the copies but not to the model inputs nor the
    perceptual hashes (near-duplicates are found from the pixels as they are).
    """
    opened = image_open(data)
    fmt, width, height = opened.format, opened.width, opened.height
    exif = image_exif(data)
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    located = bool(exif.get_ifd(ExifTags.IFD.GPSInfo))
    copy = max(width, height) > display_size or fmt not in BROWSER_FORMATS or located
    size = display_size if copy else thumbnail_size
    if upright is not None:
        rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
        rgb.thumbnail((size, size), reducing_gap=2.0)  # as image_decode_reduced shrinks
    else:
        rgb = image_decode_reduced(data, size)
        if orientation in TURNS:
            rgb = rgb.transpose(TURNS[orientation])
    if with_pixels is not None:
        with_pixels(rgb)
    shown = blur(rgb) if blur is not None else rgb
    display = _jpeg(shown) if copy else None
    rgb.thumbnail((thumbnail_size, thumbnail_size))
    if shown is not rgb:
        shown.thumbnail((thumbnail_size, thumbnail_size))
    # The perceptual hashes from the same pixels: no decode of their own.
    return Previews(thumbnail=_jpeg(shown), display=display, hashes=image_hashes(rgb))


def _jpeg(image: PILImage.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, comment=b"")  # no comment of the original
    return buffer.getvalue()
