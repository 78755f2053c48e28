"""The copy served below lead: the whole picture, nothing but the picture."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, ImageOps, PngImagePlugin
from PIL import Image as PILImage

from labeler.images.pixels.private_metadata import metadata_strip
from labeler.images.pixels.stripped import stripped_copy
from tests.api.test_original_bytes import OWNER, leaks, private_photo


def _exif(orientation: int = 1) -> PILImage.Exif:
    exif = PILImage.Exif()
    exif[ExifTags.Base.Artist] = OWNER
    if orientation != 1:
        exif[ExifTags.Base.Orientation] = orientation
    return exif


def _picture(fmt: str, size: tuple[int, int] = (30, 20), **options: object) -> bytes:
    image = PILImage.linear_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with PILImage.open(io.BytesIO(data)) as image:
        upright = image.copy() if image.format == "PNG" else image.convert("RGB")
        return upright.size, upright.convert("RGB").tobytes()


def test_a_jpeg_keeps_its_scans_and_orientation_and_loses_the_rest():
    """Comments, EXIF, XMP and what follows the image's end go; scans are copied as they are."""
    data = private_photo(located=True) + b"trailer: " + OWNER.encode()
    copy = stripped_copy(data, "jpg")
    assert copy.extension == "jpg"
    assert not leaks(copy.content)
    assert (
        copy.content.split(b"\xff\xda", 1)[1] == data.split(b"\xff\xda", 1)[1].split(b"trailer")[0]
    )
    turned = _picture("JPEG", exif=_exif(6), comment=b"x " + OWNER.encode())
    with PILImage.open(io.BytesIO(stripped_copy(turned, "jpg").content)) as image:
        assert image.getexif().get(ExifTags.Base.Orientation) == 6
        assert set(image.getexif()) == {ExifTags.Base.Orientation}


def test_a_progressive_jpegs_segments_between_scans_are_walked():
    """A comment between two scans of a progressive JPEG is left out too."""
    data = _picture("JPEG", size=(64, 48), progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    comment = b"\xff\xfe" + (len(OWNER) + 2).to_bytes(2, "big") + OWNER.encode()
    spliced = data[:second_scan] + comment + data[second_scan:]
    copy = stripped_copy(spliced, "jpg").content
    assert OWNER.encode() not in copy
    assert copy == data


def test_a_png_keeps_its_pixel_chunks_only():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", OWNER)
    info.add_itxt("Comment", OWNER, zip=True)
    data = _picture("PNG", pnginfo=info, exif=_exif())
    copy = stripped_copy(data, "png")
    assert (copy.extension, leaks(copy.content)) == ("png", [])
    assert _pixels(copy.content) == _pixels(data)


def test_a_webp_loses_its_exif_and_xmp_chunks():
    data = _picture("WEBP", lossless=True, exif=_exif(), xmp=b"<x>" + OWNER.encode() + b"</x>")
    copy = stripped_copy(data, "webp")
    assert (copy.extension, leaks(copy.content)) == ("webp", [])
    assert _pixels(copy.content) == _pixels(data)


def test_a_turned_png_keeps_its_pixels_and_only_its_turn():
    """Browsers follow a PNG's eXIf orientation, so a turned PNG is not decoded: its chunks
    are copied and an eXIf holding the orientation alone is put back (a 10000-pixel PNG
    turned by its EXIF was redrawn whole, over the decoding cap: a 500 for annotators)."""
    data = _picture("PNG", exif=_exif(6))
    copy = stripped_copy(data, "png")
    assert (copy.extension, leaks(copy.content)) == ("png", [])
    assert _pixels(copy.content) == _pixels(data)
    with PILImage.open(io.BytesIO(copy.content)) as image:
        assert dict(image.getexif()) == {ExifTags.Base.Orientation: 6}
        assert ImageOps.exif_transpose(image).size == (20, 30)  # shown upright


@pytest.mark.parametrize(("fmt", "extension"), [("WEBP", "webp"), ("TIFF", "tif")])
def test_a_turned_or_other_format_is_drawn_again_upright_as_png(fmt, extension):
    """A WebP turned by its EXIF (browsers do not follow a WebP's), or a TIFF's tags: a
    PNG drawn upright."""
    options: dict[str, object] = {"exif": _exif(6)}
    if fmt == "WEBP":
        options["lossless"] = True
    data = _picture(fmt, **options)
    copy = stripped_copy(data, extension)
    assert (copy.extension, leaks(copy.content)) == ("png", [])
    with PILImage.open(io.BytesIO(copy.content)) as image:
        assert image.size == (20, 30)  # upright


def _owned_profile() -> bytes:
    """An sRGB profile whose description, device model and a private tag name its owner."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = int.from_bytes(profile[128:132], "big")
    entries = [profile[132 + 12 * i : 144 + 12 * i] for i in range(count)]
    tags = {
        entry[:4]: profile[
            int.from_bytes(entry[4:8], "big") : int.from_bytes(entry[4:8], "big")
            + int.from_bytes(entry[8:12], "big")
        ]
        for entry in entries
    }
    text = b"text\0\0\0\0" + OWNER.encode() + b"\0"
    tags.update({b"desc": text, b"dmdd": text, b"zzzz": text, b"cprt": text})
    table_end = 132 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags.items():
        table += signature + (table_end + len(body)).to_bytes(4, "big")
        table += len(data).to_bytes(4, "big")
        body += data + bytes(-len(data) % 4)
    header = bytearray(profile[:128])
    header[52:56] = b"Jane"  # the device model
    whole = bytes(header) + len(tags).to_bytes(4, "big") + table + body
    return len(whole).to_bytes(4, "big") + whole[4:]


@pytest.mark.parametrize(("fmt", "extension"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
def test_an_icc_profile_keeps_its_colour_and_loses_its_text(fmt, extension):
    """A profile's description, copyright, device model and private tags name people."""
    from PIL import ImageCms

    profile = _owned_profile()
    options: dict[str, object] = {"icc_profile": profile}
    if fmt == "WEBP":
        options["lossless"] = True
    data = _picture(fmt, **options)
    copy = stripped_copy(data, extension)
    assert copy.extension == extension
    with PILImage.open(io.BytesIO(copy.content)) as image:
        kept = image.info["icc_profile"]
    assert OWNER.encode() not in kept and b"Jane" not in kept
    assert OWNER.encode() not in copy.content
    original = ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile
    colour = ImageCms.ImageCmsProfile(io.BytesIO(kept)).profile
    assert colour.red_colorant == original.red_colorant
    assert colour.media_white_point == original.media_white_point
    assert colour.profile_description == "ICC"
    assert _pixels(copy.content) == _pixels(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_strip_of_exports_and_stored_originals_keeps_what_the_served_copy_keeps(fmt):
    """``metadata_strip`` (exports, strip-on-ingest) goes by the served copy's list of what
    to keep: an ICC profile's text and a JPEG's other APPn segments (APP3-APP15 but
    Adobe's) are left out too, the picture and its turn kept."""
    options: dict[str, object] = {"icc_profile": _owned_profile()}
    if fmt == "WEBP":
        options["lossless"] = True
    exif = PILImage.Exif()
    exif[ExifTags.Base.Orientation] = 6
    options["exif"] = exif.tobytes()
    data = _picture(fmt, **options)
    if fmt == "JPEG":  # an APP12 segment ("Ducky", Photoshop's) naming the owner
        payload = b"Ducky\0" + OWNER.encode()
        data = data[:2] + b"\xff\xec" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]
    stripped = metadata_strip(data, fmt)
    assert OWNER.encode() not in stripped and b"Jane" not in stripped
    with PILImage.open(io.BytesIO(stripped)) as image:
        assert image.getexif().get(ExifTags.Base.Orientation) == 6
    assert _pixels(stripped) == _pixels(data)


def test_a_jpeg_that_ends_inside_a_segment_header_is_a_value_error():
    """A marker after the scan with its length cut off (a damaged file read in place):
    a ValueError, which the file routes answer as a file they cannot serve, not a 500."""
    data = _picture("JPEG")
    damaged = data[: data.rindex(b"\xff\xd9")] + b"\xff\xc4\x00"
    with pytest.raises(ValueError, match="ends inside"):
        stripped_copy(damaged, "jpg")
