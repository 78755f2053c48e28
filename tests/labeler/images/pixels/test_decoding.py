"""What checking an image costs, known from its header, and decoding it reduced."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image as PILImage

from labeler.images.pixels import decoding
from labeler.images.pixels.decoding import image_decode_reduced, image_open, image_verify
from labeler.images.pixels.files import RejectedFile, image_check
from labeler.images.pixels.webp import webp_decoder_available

MIB = 1024 * 1024


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **options: object) -> bytes:
    """A gradient of the size in the mode (half transparent in RGBA), encoded."""
    image = PILImage.linear_gradient("L").resize(size).convert(mode)
    if mode == "RGBA":
        image.putalpha(128)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def with_second_scan(jpeg: bytes) -> bytes:
    """A baseline JPEG with a second start-of-scan segment before its end."""
    scan = jpeg[jpeg.index(b"\xff\xda") :]
    header = scan[: 2 + struct.unpack(">H", scan[2:4])[0]]
    return jpeg[:-2] + header + b"\x00\x00" + jpeg[-2:]


def with_jpeg_in_app1(jpeg: bytes) -> bytes:
    """A baseline JPEG whose APP1 segment holds another JPEG (a thumbnail's scan markers)."""
    body = b"Exif\x00\x00" + encoded("JPEG", (16, 16))
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def test_jpeg_is_checked_at_an_eighth_of_its_size():
    """A 4000 x 3000 JPEG costs its 500 x 375 decode and libjpeg's rows, and is decoded so."""
    data = encoded("JPEG", (4000, 3000))

    opened = image_open(data)
    image_verify(opened, data)

    assert (opened.kind, opened.width, opened.height) == ("JPEG", 4000, 3000)
    assert opened.cost == 500 * 375 * 4 + 4000 * 128 * 3
    assert opened.image is not None and opened.image.size == (500, 375)


@pytest.mark.parametrize(
    ("data", "kind", "samples"),
    [
        (encoded("JPEG", (480, 320), progressive=True), "progressive JPEG", 1.5),
        (encoded("JPEG", (480, 320), progressive=True, subsampling=0), "progressive JPEG", 3),
        (with_second_scan(encoded("JPEG", (480, 320))), "multi-scan JPEG", 1.5),
    ],
    ids=["progressive-420", "progressive-444", "two-scans"],
)
def test_jpeg_of_several_scans_costs_all_its_coefficients(data, kind, samples):
    """libjpeg holds every coefficient of such a file at once: 2 bytes a sample (1.5
    samples a pixel with chroma at half size each way, 3 at full size)."""
    opened = image_open(data)

    assert opened.kind == kind
    coefficients = opened.cost - image_open(encoded("JPEG", (480, 320))).cost
    assert coefficients == 480 * 320 * samples * 2


def test_jpeg_holding_a_jpeg_in_its_exif_is_one_scan():
    """The scan markers inside an APP1 segment are skipped with the segment."""
    assert image_open(with_jpeg_in_app1(encoded("JPEG", (400, 300)))).kind == "JPEG"


def test_png_costs_the_same_at_any_size():
    """PNG pixel data is checked a step at a time, whatever the image's size."""
    small, large = image_open(encoded("PNG", (10, 10))), image_open(encoded("PNG", (3000, 2000)))

    assert small.cost == large.cost < 4 * MIB


@pytest.mark.parametrize(
    ("fmt", "mode", "per_pixel"),
    [("GIF", "P", 1), ("BMP", "RGB", 4 + 2), ("TIFF", "RGB", 4 + 3)],
)
def test_formats_decoded_whole_cost_their_decoded_size(fmt, mode, per_pixel):
    """GIF, BMP and TIFF are decoded whole, as Pillow holds them (4 bytes for RGB), plus
    BMP's run-length buffers and TIFF's strip and file."""
    data = encoded(fmt, (300, 200), mode)

    opened = image_open(data)

    assert opened.cost >= 300 * 200 * per_pixel
    assert opened.cost <= 300 * 200 * per_pixel + len(data)


@pytest.mark.skipif(not webp_decoder_available(), reason="libwebp not reachable")
@pytest.mark.parametrize(
    ("mode", "options", "kind", "per_pixel"),
    [
        ("RGB", {}, "WebP", 0),
        ("RGB", {"lossless": True}, "lossless WebP", 4),
        ("RGBA", {}, "WebP with transparency", 5),
    ],
    ids=["lossy", "lossless", "alpha"],
)
def test_webp_costs_what_libwebp_keeps_besides_the_small_output(mode, options, kind, per_pixel):
    data = encoded("WEBP", (800, 600), mode, **options)

    opened = image_open(data)

    assert opened.kind == kind
    small = 100 * 75 * 3 + 800 * 256
    assert opened.cost == small + 800 * 600 * per_pixel


def test_webp_is_decoded_by_pillow_where_libwebp_cannot_be_reached(monkeypatch):
    """Without libwebp's own decoder a WebP costs what Pillow's holds, and still passes."""
    monkeypatch.setattr(decoding, "webp_decoder_available", lambda: False)
    data = encoded("WEBP", (80, 60))

    opened = image_open(data)

    assert (opened.kind, opened.cost) == ("WebP", 80 * 60 * 20)
    assert image_check(data).width == 80


def test_image_whose_check_would_hold_too_much_is_refused_before_decoding(settings):
    """Over LABELER_MAX_DECODE_BYTES, the refusal names the image, what it would take and
    the limit; the pixels are never decoded."""
    settings.LABELER_MAX_DECODE_BYTES = MIB
    data = encoded("GIF", (2000, 1000), "P")

    with pytest.raises(
        RejectedFile,
        match=r"Decoding this 2000x1000 GIF would take 9\.5 MB of memory; the limit is 1\.0 MB",
    ):
        image_check(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_thumbnail_decode_is_small_and_rgb(fmt):
    """Decoded for a thumbnail: RGB, no larger than asked, the proportions kept."""
    decoded = image_decode_reduced(encoded(fmt, (1200, 600)), 100)

    assert decoded.mode == "RGB"
    assert decoded.size == (100, 50)
