"""A photo's full-resolution copy without any metadata: what people below lead are served.

``metadata.metadata_strip`` leaves out what exports must not carry (EXIF, XMP, IPTC) and
keeps the rest; this copy keeps only what draws the picture, by a list of what to keep
rather than of what to drop, so a comment, a maker's segment or a text chunk never slips
through:

- JPEG: SOI, the JFIF header, the ICC profile's colour, Adobe's colour transform, the tables,
  frames and scans (copied bit for bit, segments between progressive scans walked too),
  EOI; nothing after the image's end. A minimal EXIF holding the orientation is put back,
  so the photo shows the right way up, as the original does.
- PNG: the critical chunks and those that say how to draw them (transparency, colour,
  animation); no text nor time, and an eXIf of the orientation alone where it is turned.
- WebP: the bitstream, alpha, animation and ICC chunks; no EXIF nor XMP.
- Anything else, and a WebP turned by its EXIF (browsers follow a PNG's eXIf turn, not a
  WebP's): decoded, turned upright and
  written as PNG (lossless; a GIF's first frame).

An ICC profile keeps its colour and loses its text (description, copyright, the device's
maker, model and owner, private tags: ``labeler.images.pixels.icc``); one that cannot be read
is left out.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass

from PIL import ExifTags
from PIL import Image as PILImage

from labeler.images.pixels.decoding import image_decode_upright, image_orientation
from labeler.images.pixels.icc import MAX_PROFILE_BYTES, icc_colour_only

_SOI, _SOS, _EOI = b"\xff\xd8", 0xDA, 0xD9
# Marker bytes of segments that draw the picture: SOFn, DHT, DAC (C0-CF), DQT, DNL, DRI,
# DHP/EXP (DB-DF), and the APPn that hold colour rather than private data.
_TABLES = {*range(0xC0, 0xD0), 0xDB, 0xDC, 0xDD, 0xDE, 0xDF}
_KEPT_APP = {0xE0: (b"JFIF\x00",), 0xEE: (b"Adobe",)}
_APP2, _ICC_PROFILE = 0xE2, b"ICC_PROFILE\x00"
_ICC_CHUNK = 65519  # the most profile one APP2 segment holds (65535 - 2 - 14)
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# A marker inside entropy-coded data: 0xFF then neither a stuffed zero, RSTn nor a fill.
_NEXT_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEPT = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT",
    b"sRGB", b"cICP", b"mDCv", b"cLLi", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
}  # fmt: skip
_WEBP_KEPT = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}
_VP8X_ICC, _VP8X_EXIF, _VP8X_EXIF_XMP = 0x20, 0x08, 0x08 | 0x04


@dataclass(frozen=True)
class StrippedCopy:
    """The copy's bytes and the extension of its format."""

    content: bytes
    extension: str


def stripped_copy(data: bytes, extension: str) -> StrippedCopy:
    """The image in ``data`` (stored with this extension) with nothing but its picture.

    Raises ValueError (or Pillow's OSError, the decoder's DecodeRefused among them) when
    the file cannot be read as its format, or redrawn within the decoding cap.
    """
    if extension == "jpg":
        return StrippedCopy(_jpeg(data, _orientation(data)), "jpg")
    if extension == "png":  # a turn kept as an eXIf chunk, which browsers follow: no decode
        return StrippedCopy(picture_with_orientation(data, "PNG") or b"", "png")
    if extension == "webp" and _orientation(data) == 1:
        return StrippedCopy(_webp(data), "webp")
    if extension == "bmp":
        return StrippedCopy(data, "bmp")  # BMP holds no metadata
    return StrippedCopy(_png(_redrawn(data))[0], "png")


def picture_with_orientation(data: bytes, image_format: str) -> bytes | None:
    """A JPEG, PNG or WebP with nothing but what draws it and, as its only metadata, the
    orientation (a minimal EXIF), so it still shows upright where EXIF is read; None for
    other formats. What ``metadata.metadata_strip`` gives exports and stored originals:
    the same list of what to keep as the served copies', nothing decoded.
    """
    if image_format in ("JPEG", "MPO"):
        return _jpeg(data, _orientation(data))
    if image_format == "PNG":
        kept, exif = _png(data)
        turn = _orientation_exif_bytes(_exif_orientation(exif))
        if not turn:
            return kept
        header_end = len(_PNG_SIGNATURE) + 25  # IHDR: length, type, 13 bytes, CRC
        return kept[:header_end] + _png_chunk(b"eXIf", turn) + kept[header_end:]
    if image_format == "WEBP":
        return _webp_turned(_webp(data), _orientation_exif_bytes(_orientation(data)))
    return None


def _orientation_exif_bytes(orientation: int) -> bytes:
    """EXIF holding the orientation only (empty when the image is upright)."""
    if orientation in (None, 1):
        return b""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return bytes(exif.tobytes())


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _webp_turned(data: bytes, turn: bytes) -> bytes:
    """The stripped WebP with an EXIF chunk of the orientation (its VP8X flag set)."""
    if not turn:
        return data
    body = bytearray(data[12:])
    if body[:4] == b"VP8X":
        body[8] |= _VP8X_EXIF
    body += b"EXIF" + struct.pack("<I", len(turn)) + turn + b"\0" * (len(turn) & 1)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body)


def _orientation(data: bytes) -> int:
    """The EXIF orientation as Pillow reads it, from the headers (the one decoder's)."""
    return image_orientation(data)


def _exif_orientation(exif: bytes) -> int:
    if not exif:
        return 1
    parsed = PILImage.Exif()
    parsed.load(exif)
    return int(parsed.get(ExifTags.Base.Orientation, 1) or 1)


def _redrawn(data: bytes) -> bytes:
    """The first frame decoded, turned as its EXIF says, written as PNG with nothing else;
    decoded by the one decoder, which refuses (DecodeRefused) above its memory cap."""
    upright = image_decode_upright(data)
    buffer = io.BytesIO()
    upright.save(buffer, format="PNG")
    return buffer.getvalue()


def _orientation_segment(orientation: int) -> bytes:
    if orientation == 1:
        return b""
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _jpeg(data: bytes, orientation: int) -> bytes:
    """The JPEG's picture segments and scans; every other segment left out."""
    if data[:2] != _SOI:
        raise ValueError("Not a JPEG file.")
    out = bytearray(_SOI + _orientation_segment(orientation))
    profile: bytes | None = _jpeg_icc(data)
    position = 2
    while position + 1 < len(data):
        if data[position] != 0xFF:
            raise ValueError(f"A JPEG segment was expected at byte {position}.")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
        elif marker in _STANDALONE:
            out += data[position : position + 2]
            position += 2
        elif marker == _EOI:
            break  # what follows (an MPO's other images, a trailer) is left out
        else:
            if position + 4 > len(data):
                raise ValueError("The JPEG ends inside a segment's header.")
            (length,) = struct.unpack(">H", data[position + 2 : position + 4])
            end = position + 2 + length
            body = data[position + 4 : end]
            if marker == _APP2 and body.startswith(_ICC_PROFILE):
                out += _icc_segments(profile)  # all of it where its first part was
                profile = None
            elif _jpeg_kept(marker, body):
                out += data[position:end]
            if marker == _SOS:  # the entropy-coded data, up to the next marker
                found = _NEXT_MARKER.search(data, end)
                end = found.start() if found else len(data)
                out += data[position + 2 + length : end]
            position = end
    return bytes(out + b"\xff\xd9")


def _jpeg_icc(data: bytes) -> bytes | None:
    """The colour of the JPEG's ICC profile (its APP2 parts joined in their order), or
    None when it has none or its parts do not make one profile."""
    parts: dict[int, bytes] = {}
    total, position = 0, 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF or marker in _STANDALONE:
            position += 1 if marker == 0xFF else 2
            continue
        if marker in (_SOS, _EOI):
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        body = data[position + 4 : position + 2 + length]
        if marker == _APP2 and body.startswith(_ICC_PROFILE) and len(body) > 14:
            total = body[13]
            if body[12] in parts or not 0 < body[12] <= total:
                return None
            parts[body[12]] = body[14:]
        position += 2 + length
    if not parts or len(parts) != total:
        return None
    joined = b"".join(parts[number] for number in range(1, total + 1))
    return icc_colour_only(joined)


def _icc_segments(profile: bytes | None) -> bytes:
    """APP2 segments holding ``profile`` (nothing for None)."""
    if profile is None:
        return b""
    chunks = [profile[at : at + _ICC_CHUNK] for at in range(0, len(profile), _ICC_CHUNK)]
    return b"".join(
        b"\xff\xe2"
        + struct.pack(">H", 2 + len(_ICC_PROFILE) + 2 + len(chunk))
        + _ICC_PROFILE
        + bytes([number, len(chunks)])
        + chunk
        for number, chunk in enumerate(chunks, start=1)
    )


def _jpeg_kept(marker: int, body: bytes) -> bool:
    if marker in _TABLES or marker == _SOS:
        return True
    return any(body.startswith(prefix) for prefix in _KEPT_APP.get(marker, ()))


def _png(data: bytes) -> tuple[bytes, bytes]:
    """The PNG's chunks that draw it (``_PNG_KEPT``), CRCs as they were, and its EXIF.

    Walked here, not by Pillow: its EXIF may follow the pixels, which Pillow would decode
    to reach it (a third of a second for 12 megapixels).
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("Not a PNG file.")
    out, exif = bytearray(_PNG_SIGNATURE), b""
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if kind == b"iCCP":
            out += _png_icc(data[position + 8 : end - 4])
        elif kind in _PNG_KEPT:
            out += data[position:end]
        elif kind == b"eXIf":
            exif = data[position + 8 : end - 4]
        if kind == b"IEND":
            break
        position = end
    return bytes(out), exif


def _png_icc(body: bytes) -> bytes:
    """An iCCP chunk of the colour of the one in ``body`` (its name, free text, now
    ``ICC``), or nothing when it cannot be read (inflating past the profiles' cap too)."""
    _, _, rest = body.partition(b"\0")
    if not rest or rest[0] != 0:  # deflate is the one compression method
        return b""
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(rest[1:], MAX_PROFILE_BYTES + 1)
    except zlib.error:
        return b""
    colour = icc_colour_only(profile) if inflater.eof else None
    if colour is None:
        return b""
    chunk = b"iCCP" + b"ICC\0\0" + zlib.compress(colour)
    return struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _webp(data: bytes) -> bytes:
    """The WebP's picture chunks, its VP8X flags for EXIF and XMP cleared."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("Not a WebP file.")
    body, icc = bytearray(), False
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        (length,) = struct.unpack("<I", data[position + 4 : position + 8])
        end = position + 8 + length + (length & 1)
        chunk = bytearray(data[position:end])
        if kind == b"VP8X":
            chunk[8] &= ~_VP8X_EXIF_XMP & 0xFF
        if kind == b"ICCP":
            colour = icc_colour_only(bytes(chunk[8 : 8 + length]))
            if colour is not None:
                body += (
                    b"ICCP" + struct.pack("<I", len(colour)) + colour + b"\0" * (len(colour) & 1)
                )
                icc = True
        elif kind in _WEBP_KEPT:
            body += chunk
        position = end
    if not icc and body[:4] == b"VP8X":  # the profile left out: its flag too
        body[8] &= ~_VP8X_ICC & 0xFF
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body)
