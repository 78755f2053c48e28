"""Photos' private metadata (GPS position, camera, owner: EXIF, XMP, IPTC) left out of copies.

Phones write where a photo was taken into its EXIF, and cameras their serial numbers and
owner's name. The stored original keeps all of it; what leaves the server for other people
(an export's image files) goes without it unless the project keeps it. The photo still
shows the right way up: a JPEG keeps its EXIF orientation, other formats are turned.

Nothing is decoded where the format allows: the file's metadata are cut out of it and
a minimal EXIF holding the orientation put back, the compressed pixels copied as they
are, bit for bit.

- JPEG: its metadata segments (APP1 EXIF and XMP, APP13 IPTC) and comments (COM) are
  dropped. What follows the image's end is left out too (an MPO's other images, a
  phone's trailer or motion video: each carries metadata of its own).
- PNG: its eXIf chunk and text chunks (tEXt, zTXt, iTXt: comments, XMP) are dropped.
- WebP: its EXIF and XMP chunks are dropped (and their flags in the VP8X chunk).
- Other formats that carry EXIF, XMP or a comment (TIFF, HEIC, AVIF, GIF, BMP) are
  decoded by ``labeler.images.decoding`` (refused there above its memory cap), turned
  upright and written again by Pillow without any: lossless formats keep their pixels,
  lossy ones are encoded again at a high quality. Files without any are returned as
  they are.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from dataclasses import replace

from PIL import ExifTags
from PIL import Image as PILImage

from labeler.images.decoding import image_decode_upright, image_has_metadata, image_orientation
from labeler.images.files import CheckedImage, RejectedFile
from labeler.images.png_data import png_chunks
from labeler.images.webp import webp_chunks

# JPEG markers whose segments hold metadata: APP1 (EXIF, XMP), APP13 (IPTC/Photoshop),
# COM (free text).
_PRIVATE_MARKERS = {0xE1, 0xED, 0xFE}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length (TEM, RSTn)
_SOS, _EOI = 0xDA, 0xD9
_APP2 = 0xE2  # ICC profiles (kept) and an MPO's index of its other images (left out)
_JPEG_FORMATS = {"JPEG", "MPO"}
_QUALITY = {"WEBP": 95, "HEIF": 95, "AVIF": 95}


def metadata_strip(data: bytes, image_format: str) -> bytes:
    """The image without its EXIF, XMP, IPTC and comments, the orientation kept.

    Raises DecodeRefused (an OSError) for a format that must be decoded to be written
    again, when decoding it would hold more than the cap.
    """
    if image_format in _JPEG_FORMATS:
        return _jpeg_strip(data)
    if image_format == "PNG":
        return _png_strip(data)
    if image_format == "WEBP":
        return _webp_strip(data)
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


# PNG chunks that hold metadata: EXIF, and text (comments, XMP, raw EXIF or IPTC profiles).
_PNG_PRIVATE = {b"eXIf", b"tEXt", b"zTXt", b"iTXt"}


def _png_strip(data: bytes) -> bytes:
    """A PNG's chunks copied but its metadata ones; an eXIf of the orientation after IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("Not a PNG file.")
    chunks = list(png_chunks(data))
    if not any(kind in _PNG_PRIVATE for kind, _, _ in chunks):
        return data
    out = bytearray(data[:8])
    kept = _orientation_exif(image_orientation(data))
    for kind, start, end in chunks:
        if kind not in _PNG_PRIVATE:
            out += data[start:end]
        if kind == b"IHDR" and kept:
            out += _png_chunk(b"eXIf", kept)
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


_WEBP_PRIVATE = {b"EXIF", b"XMP "}
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp_strip(data: bytes) -> bytes:
    """A WebP's chunks copied but EXIF and XMP; an EXIF of the orientation at its end."""
    chunks = webp_chunks(data)
    if not any(kind in _WEBP_PRIVATE for kind, _ in chunks):
        return data
    kept = _orientation_exif(image_orientation(data))
    body = bytearray(b"WEBP")
    for kind, view in chunks:
        if kind in _WEBP_PRIVATE:
            continue
        payload = bytes(view)
        if kind == b"VP8X" and payload:
            flags = (payload[0] & ~(_VP8X_EXIF | _VP8X_XMP)) | (_VP8X_EXIF if kept else 0)
            payload = bytes([flags]) + payload[1:]
        body += _riff_chunk(kind, payload)
    if kept:
        body += _riff_chunk(b"EXIF", kept)
    return b"RIFF" + struct.pack("<I", len(body)) + bytes(body)


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


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
    orientation = image_orientation(data)
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
