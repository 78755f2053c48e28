"""Bad and tricky upload bytes, built in memory: broken images and hostile archives."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

from PIL import Image as PILImage

from tests.factories import image_bytes

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>x()</script></svg>'
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
TEXT = b"just some notes, not a picture\n"

# Offsets of fields in a zip's central directory record (after the b"PK\x01\x02" magic).
_CD_VERSION_NEEDED = 6
_CD_FLAGS = 8
_CD_CRC = 16
_CD_UNCOMPRESSED = 24


def truncated(data: bytes) -> bytes:
    """The first half of a file, as an interrupted upload leaves it."""
    return data[: len(data) // 2]


def png_claiming(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG whose header claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg_turned() -> bytes:
    """A 40x20 JPEG, red left half and blue right half, whose EXIF says: turn 90° clockwise."""
    image = PILImage.new("RGB", (40, 20), (220, 0, 0))
    image.paste((0, 0, 220), (20, 0, 40, 20))
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive holding the entries under exactly the names given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@functools.cache
def zip_bomb() -> bytes:
    """50 MB of zeros named like an image, deflated to about 50 KB."""
    return zip_of({"zeros.png": bytes(50_000_000)})


def zip_lying_about_size(size: int, *, crc_of_prefix: bool = False) -> bytes:
    """The zip bomb with a central directory that claims the entry is only size bytes.

    With crc_of_prefix the checksum is forged too, so it matches the first size bytes.
    """
    data = _patched(zip_bomb(), _CD_UNCOMPRESSED, struct.pack("<I", size))
    if crc_of_prefix:
        data = _patched(data, _CD_CRC, struct.pack("<I", zlib.crc32(bytes(size))))
    return data


def zip_with_corrupt_data(compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip whose directory is intact but whose compressed bytes are garbage."""
    data = bytearray(zip_of({"a.png": image_bytes(size=(64, 64))}, compression))
    start = 30 + len("a.png")  # the local header, then the compressed bytes
    data[start + 4 : start + 40] = bytes(range(100, 136))
    return bytes(data)


def zip_needing_version(version: int) -> bytes:
    """A zip whose entry claims it needs a newer unzip than Python's."""
    return _patched(
        zip_of({"a.png": image_bytes()}), _CD_VERSION_NEEDED, struct.pack("<H", version)
    )


def zip_marked_encrypted() -> bytes:
    """A zip whose entry carries the 'encrypted' flag."""
    return _patched(zip_of({"a.png": image_bytes()}), _CD_FLAGS, struct.pack("<H", 0x1))


def zip_with_nameless_entry() -> bytes:
    """A zip with an entry whose name starts with a NUL byte, so it reads as ''."""
    return zip_of({"QQQQ.png": image_bytes()}).replace(b"QQQQ.png", b"\0QQQ.png")


def _patched(data: bytes, field: int, value: bytes) -> bytes:
    # Only the first (and in these samples only) central directory record.
    start = data.index(b"PK\x01\x02") + field
    return data[:start] + value + data[start + len(value) :]


def jpeg_located(size: tuple[int, int] = (40, 20)) -> bytes:
    """A small JPEG whose EXIF carries a GPS position (and a camera), as phones write them."""
    image = PILImage.new("RGB", size, (30, 160, 60))
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def photo(fmt: str, size: tuple[int, int]) -> bytes:
    """A photo-like image (smooth gradients) of the format and size."""
    gradient = PILImage.linear_gradient("L").resize(size)
    image = PILImage.merge(
        "RGB", (gradient, gradient.transpose(PILImage.Transpose.ROTATE_90).resize(size), gradient)
    )
    buffer = io.BytesIO()
    image.save(
        buffer, format=fmt, **({"quality": 85} if fmt in ("JPEG", "HEIF", "AVIF", "WEBP") else {})
    )
    return buffer.getvalue()


def photo_located(fmt: str, icc_profile: bytes | None = None) -> bytes:
    """A 40x20 photo of the format, red left half and blue right half, whose metadata say
    it was taken at a GPS position by "PhoneMaker", turned 90° clockwise (20x40 upright,
    red on top), with XMP (``pets``, and an orientation) and the ICC profile given."""
    image = PILImage.new("RGB", (40, 20), (220, 0, 0))
    image.paste((0, 0, 220), (20, 0, 40, 20))
    exif = image.getexif()
    exif[0x0112], exif[0x010F] = 6, "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 29.0)})
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"<tiff:Orientation>6</tiff:Orientation>pets</x:xmpmeta>"
    )
    options = {"icc_profile": icc_profile} if icc_profile else {}
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=90, exif=exif.tobytes(), xmp=xmp, **options)
    return buffer.getvalue()


def jpeg_undecodable(size: tuple[int, int] = (64, 64)) -> bytes:
    """A JPEG whole to its end marker whose scan names a component its frame lacks: its
    header reads, libjpeg refuses its pixels ("broken data stream")."""
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (10, 200, 30)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    scan = data.find(b"\xff\xda")
    data[scan + 5] = 9  # the first component's id: frames number theirs 1 to 3
    return bytes(data)
