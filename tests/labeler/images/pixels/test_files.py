"""Checks of uploaded bytes: which images pass image_check, and the previews made of them."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image as PILImage

from labeler.images.pixels.files import RejectedFile, image_check, previews_render
from tests.factories import image_bytes
from tests.labeler.images import samples


@pytest.mark.parametrize(
    ("fmt", "extension"),
    [
        ("PNG", "png"),
        ("JPEG", "jpg"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
        ("TIFF", "tif"),
        ("WEBP", "webp"),
        ("HEIF", "heic"),
        ("AVIF", "avif"),
    ],
)
def test_accepted_image_is_kept_byte_for_byte(fmt, extension):
    """An upright image of an accepted format passes as uploaded, not re-encoded."""
    data = image_bytes(fmt, size=(32, 24))

    checked = image_check(data)

    assert checked.content == data
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert (checked.width, checked.height) == (32, 24)
    assert (checked.format, checked.extension) == (fmt, extension)


@pytest.mark.parametrize(
    "data", [samples.TEXT, samples.HTML, samples.SVG], ids=["text", "html", "svg"]
)
def test_non_image_is_rejected(data):
    """Text, HTML and SVG are refused as not images, whatever their name claims."""
    with pytest.raises(RejectedFile, match="Not an image file"):
        image_check(data)


def test_image_of_a_format_not_accepted_names_the_format():
    """An image Pillow reads but we do not accept (ICO) is refused with the allowed list."""
    buffer = io.BytesIO()
    PILImage.new("RGB", (16, 16)).save(buffer, format="ICO")

    with pytest.raises(
        RejectedFile, match="ICO format is not accepted; use one of AVIF, BMP, GIF, HEIF"
    ):
        image_check(buffer.getvalue())


def test_empty_file_is_rejected():
    """Zero bytes are refused as an empty file."""
    with pytest.raises(RejectedFile, match="File is empty"):
        image_check(b"")


def test_file_over_the_size_cap_is_rejected_before_decoding(settings):
    """A file above LABELER_MAX_IMAGE_BYTES is refused with its size and the limit."""
    data = image_bytes()
    settings.LABELER_MAX_IMAGE_BYTES = len(data) - 1

    with pytest.raises(RejectedFile, match=f"{len(data):,} bytes; the limit is {len(data) - 1:,}"):
        image_check(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_rejected(fmt):
    """Half a PNG or a JPEG is refused as truncated, not stored with grey rows."""
    data = samples.truncated(image_bytes(fmt, size=(64, 64)))

    with pytest.raises(RejectedFile, match="truncated or corrupt"):
        image_check(data)


def test_decompression_bomb_is_rejected_without_decoding():
    """A small PNG claiming 30000x30000 pixels is refused from its header alone."""
    with pytest.raises(RejectedFile, match="too large to decode safely"):
        image_check(samples.png_claiming(30_000, 30_000))


def test_image_over_the_pixel_cap_is_rejected(settings):
    """Above LABELER_MAX_IMAGE_PIXELS the reason gives the size and the limit."""
    settings.LABELER_MAX_IMAGE_PIXELS = 10_000

    with pytest.raises(RejectedFile, match="Image is 200x100 pixels; the limit is 10,000 pixels"):
        image_check(image_bytes(size=(200, 100)))


def test_exif_rotated_jpeg_is_kept_as_sent_with_its_upright_size():
    """Orientation 6: the check keeps the bytes as sent (turning means decoding the whole
    image, which the worker does) and gives the width and height the image has once turned.

    The hash is that of the uploaded bytes, so uploading the file again is a duplicate.
    """
    data = samples.jpeg_turned()

    checked = image_check(data)

    assert (checked.width, checked.height) == (20, 40)
    assert checked.content == data
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


def previews(data: bytes, display_size: int = 32, thumbnail_size: int = 16):
    return previews_render(data, display_size=display_size, thumbnail_size=thumbnail_size)


def decoded(data: bytes | None) -> PILImage.Image:
    assert data is not None
    return PILImage.open(io.BytesIO(data))


def test_previews_are_turned_as_the_exif_says_and_the_original_is_left_alone():
    """Orientation 6 is applied to the thumbnail: width and height swap, the left half ends
    on top. The image fits the display size, so the original is what is shown."""
    result = previews(samples.jpeg_turned(), display_size=64)

    assert result.display is None
    thumbnail = decoded(result.thumbnail)
    assert thumbnail.size == (8, 16) and thumbnail.getexif().get(0x0112, 1) == 1
    red, _, blue = thumbnail.convert("RGB").getpixel((4, 2))
    assert red > 150 and blue < 100  # the red half is now on top
    red, _, blue = thumbnail.convert("RGB").getpixel((4, 13))
    assert blue > 150 and red < 100


def test_a_photo_larger_than_the_display_size_gets_an_upright_copy():
    result = previews(samples.jpeg_turned(), display_size=30)

    display = decoded(result.display)
    assert display.format == "JPEG" and display.size == (15, 30)  # upright, long side 30
    red, _, blue = display.convert("RGB").getpixel((7, 3))
    assert red > 150 and blue < 100


def test_a_located_photo_is_shown_through_a_copy_without_exif():
    """Privacy by default: the original keeps its GPS position, what annotators see not."""
    data = samples.jpeg_located()
    assert PILImage.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # it has one

    result = previews(data, display_size=2000)

    for copy in (result.display, result.thumbnail):
        image = decoded(copy)
        assert not image.getexif() and "exif" not in image.info
    assert decoded(result.display).size == (40, 20)


@pytest.mark.parametrize("fmt", ["HEIF", "TIFF"])
def test_a_format_browsers_do_not_show_gets_a_copy_they_do(fmt):
    result = previews(samples.photo(fmt, (24, 18)), display_size=2000)

    assert decoded(result.display).format == "JPEG" and decoded(result.display).size == (24, 18)


@pytest.mark.parametrize("fmt", ["PNG", "AVIF", "WEBP"])
def test_a_small_image_browsers_show_is_shown_as_it_is(fmt):
    assert previews(samples.photo(fmt, (24, 18)), display_size=2000).display is None


@pytest.mark.parametrize(("display_size", "copy"), [(2000, (2000, 1500)), (2048, (2016, 1512))])
def test_a_large_jpeg_is_decoded_reduced_for_its_copy(monkeypatch, display_size, copy):
    """4032x3024 decoded at half scale, never whole: with a 2000 display size shrunk to
    2000x1500; with 2048 (the default), the half-scale pixels are the copy."""
    sizes = []
    load = PILImage.Image.load

    def spy(self):
        sizes.append(self.size)
        return load(self)

    data = samples.photo("JPEG", (4032, 3024))
    monkeypatch.setattr(PILImage.Image, "load", spy)
    result = previews(data, display_size=display_size)
    assert decoded(result.display).size == copy
    assert (2016, 1512) in sizes and (4032, 3024) not in sizes


def test_a_jpeg_cut_before_its_end_marker_is_refused_from_its_markers():
    """A photo's pixels are decoded later, by the worker: a file cut short is still
    refused at once, its markers walked to where its end marker should be."""
    data = image_bytes("JPEG", size=(64, 64))

    with pytest.raises(RejectedFile, match="ends before the image does"):
        image_check(data[:-2])
    assert image_check(data + b"trailing data a phone appended").width == 64


def test_a_jpeg_is_stored_without_its_pixels_decoded(monkeypatch):
    """The upload check of a photo reads its header; a broken stream passes it."""
    data = samples.jpeg_undecodable()

    checked = image_check(data)

    assert (checked.format, checked.width, checked.content) == ("JPEG", 64, data)


def test_a_copy_is_never_much_smaller_than_the_display_size(monkeypatch):
    """1600 pixels shown at up to 1000: its half-scale decode (800) would be a fifth too
    small, so it is decoded whole and shrunk to 1000."""
    result = previews(samples.photo("JPEG", (1600, 1200)), display_size=1000)

    assert decoded(result.display).size == (1000, 750)
