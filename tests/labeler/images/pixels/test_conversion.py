"""Copies in formats every reader takes: HEIC and AVIF as JPEG, GIF as PNG, upright, with
the metadata the exports' rule allows."""

from __future__ import annotations

import functools
import io

import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from labeler.images.pixels.conversion import converted_format, image_converted
from labeler.images.pixels.decoding import DecodeRefused, image_decode, image_exif
from tests.labeler.images import samples

GPS_IFD, MAKE, ORIENTATION = 0x8825, 0x010F, 0x0112


@functools.cache
def _srgb() -> bytes:
    """One sRGB profile (a new one is dated when it is made)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_photo(fmt: str) -> bytes:
    return samples.photo_located(fmt, icc_profile=_srgb())


def opened(data: bytes) -> PILImage.Image:
    """The copy as a reader opens it (its header), and its pixels."""
    return image_decode(data)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_phone_photo_becomes_an_upright_jpeg_without_its_private_metadata(fmt):
    data = image_converted(phone_photo(fmt), fmt)

    assert data[:2] == b"\xff\xd8" and converted_format(fmt) == "JPEG"
    pixels = opened(data)
    assert pixels.size == (20, 40)
    red, _, blue = pixels.getpixel((10, 5))
    assert red > 180 and blue < 60  # the left half, turned, is on top
    assert not image_exif(data) and b"PhoneMaker" not in data and b"pets" not in data
    profile = PILImage.open(io.BytesIO(data)).info["icc_profile"]  # its colour only
    assert profile != _srgb() and b"sRGB" not in profile


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_project_that_keeps_metadata_keeps_them_in_the_jpeg_now_upright(fmt):
    data = image_converted(phone_photo(fmt), fmt, keep_metadata=True)

    exif = image_exif(data)
    assert exif[MAKE] == "PhoneMaker" and exif.get_ifd(GPS_IFD)[1] == "N"
    assert exif[ORIENTATION] == 1  # the pixels are turned: nothing left to turn
    info = PILImage.open(io.BytesIO(data)).info
    assert b"pets" in info["xmp"] and b"Orientation" not in info["xmp"]
    assert info["icc_profile"] == _srgb()
    assert opened(data).size == (20, 40)


def test_a_gif_becomes_a_png_of_its_first_frame():
    frames = [PILImage.new("RGB", (12, 8), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50)

    data = image_converted(buffer.getvalue(), "GIF")

    assert data.startswith(b"\x89PNG") and converted_format("GIF") == "PNG"
    first = opened(data)
    assert first.size == (12, 8) and first.convert("RGB").getpixel((0, 0)) == (250, 0, 0)


def test_other_formats_are_written_as_they_are():
    assert [converted_format(fmt) for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "BMP")] == [
        "JPEG",
        "PNG",
        "WEBP",
        "TIFF",
        "BMP",
    ]


def test_a_photo_over_the_decoding_cap_is_refused_before_it_is_decoded(settings):
    settings.LABELER_MAX_DECODE_BYTES = 1000
    with pytest.raises(DecodeRefused, match="Decoding this 20x40 HEIF"):
        image_converted(phone_photo("HEIF"), "HEIF")
