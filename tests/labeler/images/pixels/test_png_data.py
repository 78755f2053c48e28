"""PNG pixel data checked as it inflates: what Pillow decodes passes, what it refuses fails."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image as PILImage

from bench.uploads_files import png_chunk, png_rgba_turned
from labeler.images.pixels.files import RejectedFile, image_check
from labeler.images.pixels.png_data import STEP, png_data_check


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks as (type, body), the signature left out."""
    found, position = [], 8
    while position + 8 <= len(data):
        length = struct.unpack(">I", data[position : position + 4])[0]
        found.append(
            (data[position + 4 : position + 8], data[position + 8 : position + 8 + length])
        )
        position += 12 + length
    return found


def png_of(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(kind, body) for kind, body in chunks)


def png_raw(
    width: int, height: int, rows: bytes, *, interlaced: bool = False, idat_size: int = 0
) -> bytes:
    """An 8-bit grey PNG whose pixel data inflates to exactly ``rows``, in IDAT chunks of
    ``idat_size`` bytes (one chunk when 0)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, int(interlaced))
    compressed = zlib.compress(rows)
    size = idat_size or len(compressed) or 1
    idats = [(b"IDAT", compressed[i : i + size]) for i in range(0, len(compressed), size)]
    return png_of([(b"IHDR", header), *idats, (b"IEND", b"")])


def pillow_decodes(data: bytes) -> bool:
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        return False
    return True


def checks(data: bytes) -> bool:
    try:
        image_check(data)
    except RejectedFile:
        return False
    return True


def saved(mode: str, size: tuple[int, int] = (37, 23), **options: object) -> bytes:
    buffer = io.BytesIO()
    PILImage.linear_gradient("L").resize(size).convert(mode).save(buffer, format="PNG", **options)
    return buffer.getvalue()


GREY_ROWS = b"".join(bytes([n % 5]) + bytes(range(n, n + 10)) for n in range(7))  # 10x7, L
# Adam7 over 5 x 3 grey pixels: passes 1, 2, 4, 5, 6 and 7 hold (columns, rows); 3 none.
ADAM7_PASSES = [(1, 1), (1, 1), (1, 1), (3, 1), (2, 2), (5, 1)]
ADAM7_ROWS = b"".join((b"\0" + bytes(columns)) * rows for columns, rows in ADAM7_PASSES)

CASES = {
    "1-bit": saved("1"),
    "grey": saved("L"),
    "palette with transparency": saved("P", transparency=3),
    "grey and alpha": saved("LA"),
    "rgb": saved("RGB"),
    "rgba": saved("RGBA"),
    "16-bit grey": saved("I;16"),
    "all filter types": png_raw(10, 7, GREY_ROWS),
    "interlaced": png_raw(5, 3, ADAM7_ROWS, interlaced=True),
    "interlaced one row short": png_raw(5, 3, ADAM7_ROWS[:-6], interlaced=True),
    "pixels in 3-byte IDAT chunks": png_raw(10, 7, GREY_ROWS, idat_size=3),
    "more data than rows": png_raw(10, 7, GREY_ROWS + bytes(50)),
    "one row short": png_raw(10, 7, GREY_ROWS[:-11]),
    "one byte short": png_raw(10, 7, GREY_ROWS[:-1]),
    "unknown filter type": png_raw(10, 7, GREY_ROWS[:11] + b"\x05" + GREY_ROWS[12:]),
    "pixels not deflate": png_of(
        [*chunks_of(png_raw(10, 7, GREY_ROWS))[:1], (b"IDAT", b"garbage!"), (b"IEND", b"")]
    ),
}


# Pillow stops where the compressed stream ends and leaves the rows it did not get black:
# pixel data that ends cleanly before the last row is refused here, as truncated.
STRICTER = {"one row short", "interlaced one row short"}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_check_passes_what_pillow_decodes_and_only_that(case):
    """The row-by-row check agrees with a full decode by Pillow on every kind of PNG data,
    but for pixel data that ends a row or more early, which Pillow pads with black."""
    data = CASES[case]

    assert checks(data) == (pillow_decodes(data) and case not in STRICTER)
    assert case not in STRICTER or pillow_decodes(data)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("one row short", "image file is truncated"),
        ("unknown filter type", "unknown PNG filter type 5"),
        ("interlaced one row short", "image file is truncated"),
    ],
)
def test_refusal_says_what_is_wrong(case, reason):
    with pytest.raises(RejectedFile, match=f"truncated or corrupt: {reason}"):
        image_check(CASES[case])


def after_pixels(data: bytes, *extra: tuple[bytes, bytes]) -> bytes:
    """The PNG with chunks put between its last IDAT and IEND."""
    chunks = chunks_of(data)
    return png_of([*chunks[:-1], *extra, chunks[-1]])


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        ((b"tEXt", b"Comment\0hello"), False),
        ((b"zTXt", b"Comment\0\0" + zlib.compress(b"x" * 1000)), False),
        ((b"zTXt", b"Comment\0\0not deflate"), False),  # Pillow ignores it
        ((b"zTXt", b"Comment\0\x01" + zlib.compress(b"x")), True),  # unknown method
        ((b"zTXt", b"Comment\0\0" + zlib.compress(bytes(2_000_000))), True),  # over 1 MB
        ((b"iTXt", b"Comment\0\x01\0en\0\0" + zlib.compress(bytes(2_000_000))), True),
        ((b"iTXt", b"Comment\0\0\0en\0\0plain"), False),
        ((b"prVt", b"private"), False),
    ],
    ids=["text", "ztxt", "ztxt-broken", "ztxt-method", "ztxt-bomb", "itxt-bomb", "itxt", "private"],
)
def test_chunks_after_the_pixels_are_read_as_pillow_reads_them(extra, refused):
    """Text after the pixels is held to Pillow's limits; other chunks are skipped."""
    data = after_pixels(saved("RGB"), extra)

    assert checks(data) is not refused
    assert pillow_decodes(data) is not refused


def test_a_chunk_cut_short_after_the_pixels_is_refused():
    """The file ends inside a chunk after the pixels: refused, as Pillow refuses it."""
    data = after_pixels(saved("RGB"), (b"tEXt", b"Comment\0" + b"x" * 100))
    cut = data[: data.index(b"tEXt") + 50]

    assert not pillow_decodes(cut)
    with pytest.raises(RejectedFile, match="truncated tEXt chunk"):
        image_check(cut)


def test_exif_after_the_pixels_turns_the_size():
    """An eXIf chunk after the pixels says how to turn the image: width and height swap."""
    exif = PILImage.Exif()
    exif[0x0112] = 8
    upright = saved("RGB", size=(40, 20))
    data = after_pixels(upright, (b"eXIf", exif.tobytes().removeprefix(b"Exif\x00\x00")))

    checked = image_check(data)

    assert (checked.width, checked.height) == (20, 40)
    assert checked.content == data


def test_large_pixel_data_is_inflated_a_step_at_a_time():
    """Rows over several steps: every row's filter byte is found, the EXIF block returned."""
    data = png_rgba_turned(side=1000, exif_after_pixels=True)  # 4 MB of rows
    start = data.index(b"IDAT") + 4
    assert 3 * STEP < 4_000_000

    exif = png_data_check(data, start=start, size=(1000, 1000))

    assert exif is not None
    parsed = PILImage.Exif()
    parsed.load(exif)
    assert parsed[0x0112] == 6
