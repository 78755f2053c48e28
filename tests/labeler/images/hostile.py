"""Hostile upload bytes, built in memory: bombs, lies, polyglots and disguises.

Each builder returns the bytes an attacker would send; none is ever written to disk.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

from PIL import Image as PILImage

from tests.factories import image_bytes
from tests.labeler.images import samples


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.cache
def png_real_bomb(side: int = 12_000) -> bytes:
    """A complete, valid greyscale PNG of side x side black pixels: 144 MP in about 140 KB."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte, then the pixels
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def png_strip(width: int, height: int) -> bytes:
    """A real image of width x height pixels (a strip when one side is 1)."""
    buffer = io.BytesIO()
    PILImage.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def png_text_bomb() -> bytes:
    """A valid 8x8 PNG carrying a zTXt chunk that inflates to 100 MB of text."""
    data = image_bytes(size=(8, 8), seed=7)
    text = b"Comment\0\0" + zlib.compress(bytes(100_000_000), 9)
    end = data.index(b"IEND") - 4
    return data[:end] + _png_chunk(b"zTXt", text) + data[end:]


def png_corrupt_pixels() -> bytes:
    """A PNG whose compressed pixel data (IDAT) is garbage, with a matching checksum."""
    data = image_bytes(size=(64, 64), seed=8)
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4 : start])[0]
    body = bytes(range(256)) * (length // 256 + 1)
    return data[: start - 4] + _png_chunk(b"IDAT", body[:length]) + data[start + 8 + length :]


def _encoded(fmt: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (10, 20, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def gif_claiming(width: int, height: int) -> bytes:
    """A 1x1 GIF whose screen and image descriptors claim width x height."""
    data = bytearray(_encoded("GIF", (1, 1)))
    data[6:10] = struct.pack("<HH", width, height)
    descriptor = data.index(b"\x2c", 13)  # the image descriptor
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims width x height."""
    data = bytearray(image_bytes("JPEG", size=(8, 8), seed=10))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    """A 1x1 BMP whose info header claims width x height."""
    data = bytearray(_encoded("BMP", (1, 1)))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """A 1x1 uncompressed TIFF whose ImageWidth and ImageLength tags claim width x height."""
    data = bytearray(_encoded("TIFF", (1, 1)))
    assert data[:2] == b"II"
    ifd = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[ifd : ifd + 2])[0]
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack("<HH", data[entry : entry + 4])
        value = {256: width, 257: height}.get(tag)
        if value is not None:
            packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
            data[entry + 8 : entry + 12] = packed
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A lossless 1x1 WebP whose VP8L header claims width x height (at most 16384 a side)."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (1, 1)).save(buffer, format="WEBP", lossless=True)
    data = bytearray(buffer.getvalue())
    start = data.index(b"VP8L") + 8
    assert data[start] == 0x2F
    bits = struct.unpack("<I", data[start + 1 : start + 5])[0]
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[start + 1 : start + 5] = struct.pack("<I", bits)
    return bytes(data)


def jpeg_with_exif(orientation: int | bytes) -> bytes:
    """A 40x20 JPEG with an Orientation tag of the given value, or raw EXIF bytes."""
    image = PILImage.new("RGB", (40, 20), (200, 30, 30))
    buffer = io.BytesIO()
    if isinstance(orientation, bytes):
        image.save(buffer, format="JPEG", exif=orientation)
    else:
        exif = image.getexif()
        exif[0x0112] = orientation
        image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


# An EXIF block whose first IFD says it holds 65535 entries and points past its end.
EXIF_GARBAGE = b"Exif\0\0II*\0" + struct.pack("<I", 8) + struct.pack("<H", 0xFFFF) + bytes(20)
EXIF_LOOP = b"Exif\0\0II*\0" + struct.pack("<I", 8) + struct.pack("<H", 0) + struct.pack("<I", 8)


def eps() -> bytes:
    """A PostScript file: Pillow opens it, and would run Ghostscript to decode it."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
        b"/Times-Roman findfont 10 scalefont setfont 0 0 moveto (x) show\nshowpage\n%%EOF\n"
    )


def appended(data: bytes, tail: bytes) -> bytes:
    """A polyglot: a valid file with something else after its end."""
    return data + tail


HTML_TAIL = b"<html><script>window.__xss=1</script></html>"
SVG_WITH_PNG_NAME = samples.SVG
SVG_XML_PROLOG = b'<?xml version="1.0"?>\n' + samples.SVG
HTML_WITH_BOM = b"\xef\xbb\xbf" + samples.HTML
HTML_BEFORE_PNG = b"<html><script>alert(1)</script></html>"


def gzip_svg() -> bytes:
    """An SVGZ: gzip-compressed SVG."""
    import gzip

    return gzip.compress(samples.SVG)


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    return samples.zip_of(entries, compression)


@functools.cache
def zip_bomb(compression: int) -> bytes:
    """50,000,000 zeros named like an image, bzip2- or LZMA-compressed to almost nothing."""
    return zip_of({"zeros.png": bytes(50_000_000)}, compression)


def zip_symlink(name: str, target: str) -> bytes:
    """A zip whose entry is a Unix symbolic link to target."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (0o120777 << 16) & 0xFFFF0000
        archive.writestr(info, target)
    return buffer.getvalue()


def zip_overlapping(copies: int) -> bytes:
    """good.png, listed copies times in the central directory under other names.

    The "better zip bomb" trick: every record points at the same compressed bytes.
    """
    data = zip_of({"good.png": image_bytes(seed=13)}, zipfile.ZIP_STORED)
    cd_start = data.index(b"PK\x01\x02")
    eocd = data.index(b"PK\x05\x06")
    record = data[cd_start:eocd]
    names = [b"good.png"] + [f"b{i:03d}.png".encode() for i in range(1, copies)]  # same length
    directory = b"".join(record.replace(b"good.png", name) for name in names)
    end = bytearray(data[eocd:])
    end[8:12] = struct.pack("<HH", copies, copies)
    end[12:16] = struct.pack("<I", len(directory))
    return data[:cd_start] + directory + bytes(end)


def zip64_claiming(size: int) -> bytes:
    """A zip whose entry's size is 0xFFFFFFFF with a ZIP64 extra field claiming size bytes."""
    data = zip_of({"a.png": image_bytes(seed=14)}, zipfile.ZIP_STORED)
    cd_start = data.index(b"PK\x01\x02")
    eocd = data.index(b"PK\x05\x06")
    record = bytearray(data[cd_start:eocd])
    name_length, extra_length = struct.unpack("<HH", record[28:32])
    assert extra_length == 0
    record[24:28] = b"\xff\xff\xff\xff"
    record[30:32] = struct.pack("<H", 12)
    zip64 = struct.pack("<HHQ", 0x0001, 8, size)
    record = record[: 46 + name_length] + zip64 + record[46 + name_length :]
    end = bytearray(data[eocd:])
    end[12:16] = struct.pack("<I", len(record))
    return data[:cd_start] + bytes(record) + bytes(end)
