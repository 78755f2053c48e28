"""Private metadata (GPS, camera, XMP) left out of copies, the orientation and pixels kept."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from labeler.images.pixels.private_metadata import metadata_strip

GPS_IFD, MAKE, ORIENTATION = 0x8825, 0x010F, 0x0112
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>48,51N</exif:GPSLatitude></x:xmpmeta>'


def located(fmt: str, orientation: int = 6) -> bytes:
    """A photo with a GPS position, a camera maker and (where the format takes it) XMP."""
    image = PILImage.linear_gradient("L").resize((40, 20)).convert("RGB")
    exif = image.getexif()
    exif[MAKE] = "PhoneMaker"
    if orientation != 1:
        exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 4.0)})
    options: dict[str, object] = {"exif": exif.tobytes()}
    if fmt in ("JPEG", "WEBP", "PNG"):
        options["xmp"] = XMP
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"])
@pytest.mark.parametrize("orientation", [1, 6])
def test_gps_camera_and_xmp_are_gone_and_the_photo_shows_the_same(fmt, orientation):
    data = located(fmt, orientation)
    before = PILImage.open(io.BytesIO(data))
    assert before.getexif().get_ifd(GPS_IFD) and before.getexif().get(MAKE)

    stripped = metadata_strip(data, fmt)

    after = PILImage.open(io.BytesIO(stripped))
    exif = after.getexif()
    assert not exif.get_ifd(GPS_IFD) and MAKE not in exif and not after.info.get("xmp")
    assert b"GPSLatitude" not in stripped and b"PhoneMaker" not in stripped
    assert after.format == before.format
    # The same way up: the orientation is kept, or (HEIC) the pixels were already turned.
    upright = PILImage.open(io.BytesIO(data))
    from PIL import ImageOps

    expected = ImageOps.exif_transpose(upright).convert("RGB")
    shown = ImageOps.exif_transpose(after).convert("RGB")
    assert shown.size == expected.size
    difference = np.abs(np.asarray(shown, int) - np.asarray(expected, int)).max()
    assert difference <= (0 if fmt in ("PNG", "TIFF") else 24)


def test_a_jpegs_compressed_pixels_are_copied_bit_for_bit():
    data = located("JPEG")
    stripped = metadata_strip(data, "JPEG")
    scan = data.index(b"\xff\xda")
    assert stripped.endswith(data[scan:]) and len(stripped) < len(data)


def test_a_file_without_metadata_is_returned_as_it_is():
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="PNG")
    assert metadata_strip(buffer.getvalue(), "PNG") == buffer.getvalue()


def test_what_follows_a_jpegs_end_is_left_out():
    """A motion photo's video or an MPO's second image, each with metadata of its own."""
    data = located("JPEG") + located("JPEG") + b"ftypmp42 video with a location"
    stripped = metadata_strip(data, "JPEG")
    assert b"GPS" not in stripped and b"PhoneMaker" not in stripped and b"video" not in stripped
    assert stripped.endswith(b"\xff\xd9") and stripped.count(b"\xff\xd8") == 1
    assert PILImage.open(io.BytesIO(stripped)).size == (40, 20)
