"""WebP headers read from the RIFF chunks, and pixels decoded by libwebp at a reduced scale."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from labeler.images.pixels.webp import webp_decode, webp_decoder_available, webp_header

pytestmark = pytest.mark.skipif(not webp_decoder_available(), reason="libwebp not reachable")


def webp(size=(64, 48), mode="RGB", colour=(200, 40, 10), **options) -> bytes:
    buffer = io.BytesIO()
    fill = (*colour, 128) if mode == "RGBA" else colour
    PILImage.new(mode, size, fill).save(buffer, format="WEBP", **options)
    return buffer.getvalue()


def animated() -> bytes:
    buffer = io.BytesIO()
    frames = [PILImage.new("RGB", (30, 20), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (webp(), (64, 48, False, False, False)),
        (webp(lossless=True), (64, 48, True, False, False)),
        (webp(mode="RGBA"), (64, 48, False, True, False)),
        (webp(mode="RGBA", lossless=True), (64, 48, True, True, False)),
        (animated(), (30, 20, False, False, True)),
    ],
    ids=["lossy", "lossless", "lossy-alpha", "lossless-alpha", "animated"],
)
def test_header_says_size_and_kind_without_decoding(data, expected):
    header = webp_header(data)

    assert header is not None
    assert (header.width, header.height, header.lossless, header.alpha, header.animated) == expected


def test_header_carries_the_exif_and_xmp_blocks():
    exif = PILImage.Exif()
    exif[0x0112] = 6
    data = webp(exif=exif.tobytes(), xmp=b"<x:xmpmeta/>")

    header = webp_header(data)

    assert header is not None and header.exif and header.xmp == b"<x:xmpmeta/>"
    parsed = PILImage.Exif()
    parsed.load(header.exif)
    assert parsed[0x0112] == 6


@pytest.mark.parametrize(
    "data",
    [b"", b"RIFF", b"RIFF\0\0\0\0WEBPVP8 ", b"RIFF\x20\0\0\0WEBPJUNK" + bytes(24), b"\x89PNG"],
    ids=["empty", "riff-only", "no-chunk", "unknown-chunk", "png"],
)
def test_header_of_what_is_no_webp_is_none(data):
    assert webp_header(data) is None


def test_decode_gives_the_image_at_the_size_asked():
    """A 64 x 48 image decoded to 8 x 6: the small image only, its colours kept."""
    decoded = webp_decode(webp(lossless=True), (8, 6))

    assert decoded is not None
    assert (decoded.mode, decoded.size) == ("RGB", (8, 6))
    assert decoded.getpixel((4, 3)) == (200, 40, 10)


def noise(**options) -> bytes:
    buffer = io.BytesIO()
    PILImage.effect_noise((64, 48), 50).convert("RGB").save(buffer, format="WEBP", **options)
    return buffer.getvalue()


LOSSY, LOSSLESS = noise(), noise(lossless=True)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (LOSSY[: len(LOSSY) // 2], "the WebP data is truncated"),
        (LOSSLESS[:40] + bytes(b ^ 0x5A for b in LOSSLESS[40:]), "the WebP bitstream is corrupt"),
        (LOSSY.replace(b"\x9d\x01\x2a", b"\0\0\0", 1), "the WebP bitstream is corrupt"),
    ],
    ids=["truncated", "scrambled-lossless", "no-start-code"],
)  # fmt: skip
def test_decode_of_a_damaged_file_says_what_is_wrong(data, reason):
    with pytest.raises(OSError, match=reason):
        webp_decode(data, (8, 6))
