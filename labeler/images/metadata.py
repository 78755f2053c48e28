"""Photos' private metadata (GPS position, camera, owner: EXIF, XMP, IPTC) left out of copies.

Phones write where a photo was taken into its EXIF, and cameras their serial numbers and
owner's name. The stored original keeps all of it; what leaves the server for other people
(an export's image files) goes without it unless the project keeps it. The photo still
shows the right way up: a JPEG keeps its EXIF orientation, other formats are turned.

- JPEG: its metadata segments (APP1 EXIF and XMP, APP13 IPTC) are dropped from the file
  and a minimal EXIF holding the orientation put back: the compressed pixels are copied
  as they are, bit for bit. What follows the image's end is left out too (an MPO's other
  images, a phone's trailer or motion video: each carries metadata of its own).
- Other formats that carry EXIF or XMP (PNG, WebP, TIFF, HEIC, AVIF) are turned upright
  and written again by Pillow without any: lossless formats keep their pixels, lossy ones
  are encoded again at a high quality. Files without any are returned as they are.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import replace

from PIL import ExifTags, ImageOps
from PIL import Image as PILImage

from labeler.images.files import CheckedImage, RejectedFile

# JPEG markers whose segments hold metadata: APP1 (EXIF, XMP), APP13 (IPTC/Photoshop).
_PRIVATE_MARKERS = {0xE1, 0xED}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length (TEM, RSTn)
_SOS, _EOI = 0xDA, 0xD9
_APP2 = 0xE2  # ICC profiles (kept) and an MPO's index of its other images (left out)
_JPEG_FORMATS = {"JPEG", "MPO"}
_QUALITY = {"WEBP": 95, "HEIF": 95, "AVIF": 95}


def metadata_strip(data: bytes, image_format: str) -> bytes:
    """The image without its EXIF, XMP and IPTC metadata, the orientation kept."""
    if image_format in _JPEG_FORMATS:
        return _jpeg_strip(data)
    with PILImage.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if not exif and not image.info.get("xmp") and "exif" not in image.info:
            return data
        fmt = image.format or image_format
        lossless = bool(image.info.get("lossless"))
        # Turned as the EXIF says, then written with no EXIF at all: nothing to misread.
        upright = ImageOps.exif_transpose(image)
        options: dict[str, object] = {"exif": b""}
        if fmt in ("HEIF", "AVIF"):
            # pillow-heif refuses an empty EXIF, and copies the image's XMP unless told not
            options.update(exif=None, xmp=None)
        if fmt in _QUALITY:
            options["quality"] = _QUALITY[fmt]
        if fmt == "WEBP" and lossless:
            options["lossless"] = True
        buffer = io.BytesIO()
        upright.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _orientation_exif(orientation: int) -> bytes:
    """EXIF holding the orientation only (empty when the image is upright)."""
    if orientation in (None, 1):
        return b""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return exif.tobytes()


def _jpeg_strip(data: bytes) -> bytes:
    """Copy a JPEG's segments but its metadata ones; everything from the scan on as it is."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("Not a JPEG file.")
    with PILImage.open(io.BytesIO(data)) as image:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    out = bytearray(b"\xff\xd8")
    kept = _orientation_exif(orientation)
    if kept:
        payload = b"Exif\x00\x00" + kept
        out += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    position = 2
    while position < len(data):
        if data[position] != 0xFF:
            raise ValueError(f"A JPEG segment was expected at byte {position}.")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            out += data[position : position + 2]
            position += 2
            continue
        if marker in (_SOS, _EOI):
            # The scans as they are, up to the image's end: what may follow it (an MPO's
            # second image, a phone's trailer or motion video) has metadata of its own.
            end = data.find(b"\xff\xd9", position)
            out += data[position : end + 2 if end >= 0 else len(data)]
            return bytes(out)
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        private = marker in _PRIVATE_MARKERS or (
            marker == _APP2 and data[position + 4 : position + 8] == b"MPF\x00"
        )
        if not private:
            out += data[position:end]
        position = end
    return bytes(out)


def metadata_strip_checked(checked: CheckedImage) -> CheckedImage:
    """A checked upload without its private metadata (``metadata_strip``), hashed again.

    For a project that keeps no GPS position in its stored originals
    (``Project.strip_metadata_on_ingest``). A JPEG costs a copy of its bytes; other formats
    holding EXIF or XMP are decoded and written again, within what ``image_check``
    allowed their decoding to hold. Width and height are the same: they were the upright
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
