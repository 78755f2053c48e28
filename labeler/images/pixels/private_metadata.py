"""Photos' private metadata (GPS position, camera, owner: EXIF, XMP, IPTC) left out of copies.

Phones write where a photo was taken into its EXIF, and cameras their serial numbers and
owner's name. The stored original keeps all of it; what leaves the server for other people
(an export's image files) goes without it unless the project keeps it. The photo still
shows the right way up: a JPEG keeps its EXIF orientation, other formats are turned.

Nothing is decoded where the format allows: the file's metadata are cut out of it and
a minimal EXIF holding the orientation put back, the compressed pixels copied as they
are, bit for bit.

- JPEG, PNG and WebP keep only what draws the picture, by the list of what to keep that
  the copies served below lead use (``labeler.images.pixels.stripped``): a JPEG's JFIF and Adobe
  headers, tables and scans; a PNG's critical and colour chunks; a WebP's bitstream,
  alpha and animation chunks; an ICC profile's colour without its text. What follows a
  JPEG's end is left out too (an MPO's other images, a phone's trailer or motion video:
  each carries metadata of its own).
- Other formats that carry EXIF, XMP or a comment (TIFF, HEIC, AVIF, GIF, BMP) are
  decoded by ``labeler.images.pixels.decoding`` (refused there above its memory cap), turned
  upright and written again by Pillow without any: lossless formats keep their pixels,
  lossy ones are encoded again at a high quality. Files without any are returned as
  they are.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

from labeler.images.pixels.decoding import image_decode_upright, image_has_metadata
from labeler.images.pixels.files import CheckedImage, RejectedFile
from labeler.images.pixels.stripped import picture_with_orientation

_QUALITY = {"WEBP": 95, "HEIF": 95, "AVIF": 95}


def metadata_strip(data: bytes, image_format: str) -> bytes:
    """The image without its EXIF, XMP, IPTC and comments, the orientation kept.

    Raises DecodeRefused (an OSError) for a format that must be decoded to be written
    again, when decoding it would hold more than the cap.
    """
    kept = picture_with_orientation(data, image_format)
    if kept is not None:  # JPEG, PNG, WebP: what draws them, copied, nothing decoded
        return kept
    if not image_has_metadata(data):
        return data
    # Turned as the EXIF says, then written with no EXIF at all: nothing to misread.
    upright = image_decode_upright(data)
    options: dict[str, object] = {"exif": b""}
    if image_format in ("HEIF", "AVIF"):
        # pillow-heif refuses an empty EXIF, and copies the image's XMP unless told not
        options.update(exif=None, xmp=None)
    if image_format in _QUALITY:
        options["quality"] = _QUALITY[image_format]
    buffer = io.BytesIO()
    upright.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def metadata_strip_checked(checked: CheckedImage) -> CheckedImage:
    """A checked upload without its private metadata (``metadata_strip``), hashed again.

    For a project that keeps no GPS position in its stored originals
    (``Project.strip_metadata_on_ingest``). A JPEG, PNG or WebP costs a copy of its bytes,
    nothing decoded; other formats holding EXIF or XMP are decoded and written again,
    refused above the decoding cap. Width and height are the same: they were the upright
    ones already. Raises RejectedFile when the file cannot be written without them.
    """
    try:
        content = metadata_strip(checked.content, checked.format)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise RejectedFile(
            "The photo's metadata (GPS position, camera, owner) could not be removed, as "
            f"this project asks, so it was not stored: {exc}"
        ) from exc
    if content == checked.content:
        return checked
    return replace(
        checked,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        # An MPO's other images are left out: what remains is a plain JPEG.
        format="JPEG" if checked.format == "MPO" else checked.format,
    )
