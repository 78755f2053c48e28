"""Copies of images in formats every dataset reader takes: HEIC and AVIF as JPEG, GIF as PNG.

torchvision's ``ImageFolder`` skips every file whose extension it does not list (``.heic``,
``.avif``, ``.gif``), without a word, and Hugging Face's imagefolder reads HEIC only where
pillow-heif is registered: an archive handing them on as uploaded loses those images. A
converted copy is decoded once by ``labeler.images.pixels.decoding`` (within its cap), turned
upright, and written at full size:

- HEIC and AVIF as a JPEG at ``JPEG_QUALITY`` (photos: a lossy format to a lossy one, at
  a quality that keeps what the phone's encoder kept; libjpeg-turbo writes 12 megapixels
  in about a tenth of a second, where writing HEIC again took 25 seconds);
- GIF as a PNG of its first frame (lossless; what a reader of the GIF sees first).

What the copy carries follows the same rule as every exported file
(``labeler.images.pixels.private_metadata``): by default nothing but its colour (the ICC
profile's colour alone, ``labeler.images.pixels.icc``); where the project keeps photos'
metadata in its exports, the original's EXIF (its orientation now 1: the pixels are
upright) and XMP too, and its whole ICC profile.

The worker keeps one copy without metadata of each new HEIC, AVIF and GIF, made from the
decode of its previews (``image_conversion`` hands the pixels back:
``labeler.images.delivery.converted``); exports copy it rather than convert again.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import ExifTags, PngImagePlugin
from PIL import Image as PILImage

from labeler.images.pixels.decoding import image_decode_upright, image_exif, image_open
from labeler.images.pixels.formats import CONVERTED_FORMATS
from labeler.images.pixels.icc import icc_colour_only

JPEG_QUALITY = 92
# The modes each written format takes as they are; any other is converted to RGB(A).
_WRITTEN_MODES = {"JPEG": ("RGB", "L"), "PNG": ("RGB", "RGBA", "L", "LA", "P", "1", "I;16")}
# An orientation in XMP, as Pillow reads it (ImageOps.exif_transpose): dropped once turned.
_XMP_ORIENTATION = re.compile(
    rb'tiff:Orientation="[0-9]"|<tiff:Orientation>[0-9]</tiff:Orientation>'
)


def converted_format(image_format: str) -> str:
    """The format an image of ``image_format`` is exported in when converting."""
    return CONVERTED_FORMATS.get(image_format, image_format)


@dataclass(frozen=True)
class Conversion:
    """A converted copy's bytes, and the upright whole decode they were written from."""

    content: bytes
    upright: PILImage.Image


def image_converted(data: bytes, image_format: str, *, keep_metadata: bool = False) -> bytes:
    """A HEIC or AVIF as a JPEG, a GIF as a PNG (``CONVERTED_FORMATS``): upright, full size,
    its private metadata kept only with ``keep_metadata``.

    Raises DecodeRefused (an OSError) before decoding when the decode would hold more than
    the cap, and OSError, SyntaxError or ValueError for a file that cannot be decoded.
    """
    return image_conversion(data, image_format, keep_metadata=keep_metadata).content


def image_conversion(data: bytes, image_format: str, *, keep_metadata: bool = False) -> Conversion:
    """``image_converted``, with the upright pixels it decoded: the worker that prepares a
    new photo makes its previews from them too, instead of decoding it a second time.

    Raises as ``image_converted`` does.
    """
    target = CONVERTED_FORMATS[image_format]
    opened = image_open(data)  # the header alone: its mode, colour profile and XMP
    header = opened.image.info if opened.image is not None else {}
    mode = opened.image.mode if opened.image is not None else "RGB"
    if mode not in _WRITTEN_MODES[target]:
        mode = "RGBA" if target == "PNG" and "A" in mode else "RGB"
    upright = image_decode_upright(data, mode=mode)
    options: dict[str, object] = {}
    profile = header.get("icc_profile")
    if profile:
        kept = profile if keep_metadata else icc_colour_only(profile)
        if kept:
            options["icc_profile"] = kept
    if keep_metadata:
        options.update(_kept_metadata(data, header.get("xmp")))
    if target == "JPEG":
        options["quality"] = JPEG_QUALITY
    elif "xmp" in options:  # PNG keeps XMP as the text chunk readers look for
        text = PngImagePlugin.PngInfo()
        text.add_itxt("XML:com.adobe.xmp", _text(options.pop("xmp")))
        options["pnginfo"] = text
    buffer = io.BytesIO()
    upright.save(buffer, format=target, **options)
    return Conversion(buffer.getvalue(), upright)


def _kept_metadata(data: bytes, xmp: object) -> dict[str, object]:
    """The original's EXIF and XMP, each saying the image is upright (it now is)."""
    kept: dict[str, object] = {}
    exif = image_exif(data)
    if exif:
        if ExifTags.Base.Orientation in exif:
            exif[ExifTags.Base.Orientation] = 1
        kept["exif"] = exif.tobytes()
    if isinstance(xmp, str):
        xmp = xmp.encode()
    if isinstance(xmp, bytes) and xmp:
        kept["xmp"] = _XMP_ORIENTATION.sub(b"", xmp)
    return kept


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
