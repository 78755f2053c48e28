"""A PNG's pixel data checked as it inflates, without ever holding the image.

Decoding a PNG to check it holds every pixel at once (400 MB for 10000 x 10000 RGBA),
while what the check needs is that the compressed data inflates, without error, to the
rows the header announces, each starting with a known filter type. Here the IDAT chunks
are inflated a megabyte at a time and each row's filter byte is looked at as it passes.
The chunks after the pixels are then read as Pillow's ``load`` reads them, so that what
Pillow would refuse is refused here too: a chunk cut short, text that inflates beyond
Pillow's limits.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from PIL import PngImagePlugin

STEP = 1 << 20  # bytes inflated at a time
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
# Adam7's passes: first column and row, then the step between columns and between rows.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip


def png_data_check(data: bytes, *, start: int, size: tuple[int, int]) -> bytes | None:
    """Check the pixel data whose first IDAT chunk's data begins at ``start``, for an
    image (or first frame) of ``size``; returns the EXIF block of an eXIf chunk that
    follows the pixels, if any.

    Raises OSError for data that is truncated or does not inflate, or a row whose filter
    type is unknown; ValueError for text chunks over Pillow's limits.
    """
    bits = data[24] * _CHANNELS.get(data[25], 4)  # IHDR: bit depth, colour type
    rows = _rows(*size, bits=bits, interlaced=bool(data[28]))
    end = _pixels_check(data, start - 8, rows)
    return _chunks_after(data, end)


def png_decoded_row(data: bytes, width: int) -> int:
    """What one row holds decoded in 8 or 16-bit samples (a palette's as RGBA), or 0 for an
    interlaced PNG, whose rows come in seven passes over the whole image."""
    if data[28]:  # IHDR: interlace method
        return 0
    channels = 4 if data[25] == 3 else _CHANNELS.get(data[25], 4)
    return width * channels * (2 if data[24] == 16 else 1)


def png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Each chunk of a PNG file as (type, where it starts, where it ends, CRC included),
    its data skipped over, up to IEND or where the file ends."""
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        yield kind, position, min(end, len(data))
        if kind == b"IEND":
            return
        position = end


def png_exif(data: bytes) -> bytes | None:
    """The EXIF block of the first eXIf chunk, before the pixels or after them."""
    for kind, start, end in png_chunks(data):
        if kind == b"eXIf":
            return b"Exif\x00\x00" + data[start + 8 : end - 4]
    return None


def _rows(width: int, height: int, *, bits: int, interlaced: bool) -> list[tuple[int, int]]:
    """(bytes a row takes with its filter byte, rows) for each pass over the image."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    rows = []
    for x, y, step_x, step_y in passes:
        columns = (width - x + step_x - 1) // step_x
        lines = (height - y + step_y - 1) // step_y
        if columns > 0 and lines > 0:
            rows.append((1 + (columns * bits + 7) // 8, lines))
    return rows


def _pixels_check(data: bytes, position: int, rows: list[tuple[int, int]]) -> int:
    """Inflate the IDAT chunks from ``position`` until every row is seen; returns where the
    chunk holding the last of them ends."""
    expected = sum(length * count for length, count in rows)
    starts = _row_starts(rows)
    next_row = next(starts, expected)
    inflater = zlib.decompressobj()
    seen = 0
    view = memoryview(data)
    while seen < expected:
        if data[position + 4 : position + 8] != b"IDAT":
            raise OSError(f"image file is truncated ({expected - seen:,} bytes of pixels missing)")
        length = int.from_bytes(data[position : position + 4], "big")
        body = view[position + 8 : position + 8 + length]
        position += 12 + length
        for offset in range(0, len(body), STEP):
            pending: bytes | memoryview = body[offset : offset + STEP]
            while pending and seen < expected:
                try:
                    out = inflater.decompress(pending, STEP)
                except zlib.error as exc:
                    raise OSError(f"broken PNG pixel data: {exc}") from exc
                pending = inflater.unconsumed_tail
                while next_row < min(seen + len(out), expected):
                    if out[next_row - seen] > 4:
                        raise OSError(f"unknown PNG filter type {out[next_row - seen]}")
                    next_row = next(starts, expected)
                seen += len(out)
            if inflater.eof and seen < expected:
                raise OSError("image file is truncated (the pixel data ends early)")
    return position


def _row_starts(rows: list[tuple[int, int]]) -> Iterator[int]:
    """Where each row's filter byte falls in the inflated data."""
    offset = 0
    for length, count in rows:
        for _ in range(count):
            yield offset
            offset += length


def _chunks_after(data: bytes, position: int) -> bytes | None:
    """Read the chunks after the pixels up to IEND; returns the eXIf chunk's EXIF block."""
    exif = None
    text = 0
    while position + 8 <= len(data):
        kind = data[position + 4 : position + 8]
        if not kind.isalpha() or kind in (b"IEND", b"fcTL"):  # Pillow stops there too
            break
        length = int.from_bytes(data[position : position + 4], "big")
        body = data[position + 8 : position + 8 + length]
        if len(body) < length:
            raise OSError(f"truncated {kind.decode()} chunk")
        if kind == b"eXIf":
            exif = b"Exif\x00\x00" + body
        text += _text_length(kind, body)
        if text > PngImagePlugin.MAX_TEXT_MEMORY:
            raise ValueError(f"Too much memory used in text chunks: {text}>MAX_TEXT_MEMORY")
        position += 12 + length
    return exif


def _text_length(kind: bytes, body: bytes) -> int:
    """How much text a tEXt, zTXt or iTXt chunk holds once inflated (0 for other chunks)."""
    if kind not in (b"tEXt", b"zTXt", b"iTXt"):
        return 0
    _, _, value = body.partition(b"\0")
    if kind == b"tEXt":
        return len(value)
    if kind == b"zTXt":
        if value[:1] not in (b"", b"\0"):
            raise SyntaxError(f"Unknown compression method {value[0]} in zTXt chunk")
        return _inflated_length(value[1:])
    if value[:2] != b"\x01\x00":  # iTXt not compressed, or compressed some unknown way
        return len(value)
    _, _, rest = value[2:].partition(b"\0")  # language
    _, _, rest = rest.partition(b"\0")  # translated keyword
    return _inflated_length(rest)


def _inflated_length(compressed: bytes) -> int:
    """Pillow's limit on one text chunk: refused beyond MAX_TEXT_CHUNK, ignored if broken."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(compressed, PngImagePlugin.MAX_TEXT_CHUNK)
    except zlib.error:
        return 0
    if inflater.unconsumed_tail:
        raise ValueError("Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK")
    return len(text)
