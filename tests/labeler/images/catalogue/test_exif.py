"""A photo's capture time, camera and position read from its EXIF; junk gives blanks."""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import ExifTags
from PIL import Image as PILImage
from PIL.TiffImagePlugin import IFDRational

from labeler.images.catalogue.exif import PhotoFacts, _position, exif_read

MAKE, MODEL, DATETIME = ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.DateTime
ORIGINAL, OFFSET_ORIGINAL = ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal
SUBSEC_ORIGINAL = ExifTags.Base.SubsecTimeOriginal
EXIF_IFD, GPS_IFD = ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo
SYDNEY = {1: "S", 2: (33.0, 51.0, 54.5), 3: "E", 4: (151.0, 12.0, 36.0)}
PARIS = ZoneInfo("Europe/Paris")


def photo(
    fmt: str = "JPEG",
    *,
    base: dict[int, Any] | None = None,
    main: dict[int, Any] | None = None,
    gps: dict[int, Any] | None = None,
) -> bytes:
    """A small image of the format whose EXIF holds these IFD0, Exif and GPS tags."""
    image = PILImage.new("RGB", (16, 12), (90, 120, 30))
    exif = image.getexif()
    exif.update(base or {})
    if main:
        exif.get_ifd(EXIF_IFD).update(main)
    if gps:
        exif.get_ifd(GPS_IFD).update(gps)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, exif=exif)
    return buffer.getvalue()


PHONE = {
    "base": {MAKE: "Apple", MODEL: "iPhone 12"},
    "main": {ORIGINAL: "2023:07:14 18:02:33", OFFSET_ORIGINAL: "+10:00"},
    "gps": SYDNEY,
}


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_a_phone_photo_gives_its_moment_camera_and_signed_position(fmt):
    facts = exif_read(photo(fmt, **PHONE))

    assert facts.captured_at == dt.datetime(2023, 7, 14, 8, 2, 33, tzinfo=dt.UTC)
    assert facts.camera == "Apple iPhone 12"
    assert facts.latitude == pytest.approx(-(33 + 51 / 60 + 54.5 / 3600))
    assert facts.longitude == pytest.approx(151.21)


def test_the_header_is_enough_no_pixel_is_decoded():
    """A JPEG cut off right after its first scan starts still gives its EXIF."""
    data = photo(**PHONE)
    scan = data.index(b"\xff\xda")
    cut = data[: scan + 2 + int.from_bytes(data[scan + 2 : scan + 4], "big") + 8]
    with pytest.raises(OSError):
        PILImage.open(io.BytesIO(cut)).load()

    assert exif_read(cut).camera == "Apple iPhone 12"


@pytest.mark.parametrize(
    ("refs", "expected"),
    [(("N", "E"), (1, 1)), (("S", "W"), (-1, -1)), ((b"N\x00", b"W\x00"), (1, -1))],
)
def test_the_references_give_the_signs(refs, expected):
    gps = {**SYDNEY, 1: refs[0], 3: refs[1]}
    facts = exif_read(photo(gps=gps))
    assert (facts.latitude > 0, facts.longitude > 0) == (expected[0] > 0, expected[1] > 0)


def test_rationals_as_cameras_write_them():
    """Degrees and minutes over 1, seconds over 100 (and a decimal-minutes writer)."""
    gps = {
        1: "N",
        2: (IFDRational(48, 1), IFDRational(5123, 100), IFDRational(0, 1)),
        3: "E",
        4: (IFDRational(2, 1), IFDRational(17, 1), IFDRational(4012, 100)),
    }
    facts = exif_read(photo(gps=gps))
    assert facts.latitude == pytest.approx(48 + 51.23 / 60)
    assert facts.longitude == pytest.approx(2 + 17 / 60 + 40.12 / 3600)


@pytest.mark.parametrize(
    "gps",
    [
        {1: "N", 2: (48.0, 51.0, 29.0), 3: "E"},  # no longitude: a position is both or none
        {1: "X", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # unknown reference
        {1: "N", 2: (IFDRational(48, 0), 0.0, 0.0), 3: "E", 4: (2.0, 0.0, 0.0)},  # x/0
        {1: "N", 2: (48.0, 75.0, 0.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # 75 minutes
        {1: "N", 2: (123.0, 0.0, 0.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # beyond the pole
        {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)},  # no fix
        {1: "N", 2: (48.0, 51.0, 29.0, 1.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # four parts
        {9: "V", 1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)},  # void fix
    ],
    ids=["half", "reference", "zero-denominator", "minutes", "range", "null-island",
         "four-parts", "void"],
)  # fmt: skip
def test_a_junk_position_is_none_and_the_rest_is_still_read(gps):
    facts = exif_read(photo(base={MAKE: "Canon", MODEL: "Canon EOS R6"}, gps=gps))
    assert (facts.latitude, facts.longitude) == (None, None)
    assert facts.camera == "Canon EOS R6"


@pytest.mark.parametrize(
    "gps",
    [
        {1: "N", 2: "48 51 29", 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: "N", 2: (b"48", 51, 29), 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: "N", 2: ((48, 0), (51, 1), (29, 1)), 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: 7, 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: "N", 2: (float("inf"), 0, 0), 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: "N", 2: (True, 0, 0), 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: "N", 2: None, 3: "E", 4: (2.0, 17.0, 40.0)},
        {1: "N", 2: (), 3: "E", 4: (2.0, 17.0, 40.0)},
    ],
)
def test_values_of_shapes_pillow_would_not_write_give_no_position(gps):
    """What another writer's types read back as (text, bytes, pairs over zero...)."""
    assert _position(gps) is None


def test_a_position_without_references_keeps_the_values_sign():
    assert _position({2: (-33.5, 0, 0), 4: ((30201, 200), 0, 0)}) == (-33.5, 151.005)


@pytest.mark.parametrize(
    ("make", "model", "camera"),
    [
        ("NIKON CORPORATION", "NIKON D750", "NIKON D750"),
        ("Canon", "Canon EOS 5D Mark IV", "Canon EOS 5D Mark IV"),
        ("Apple", "iPhone 12", "Apple iPhone 12"),
        ("OLYMPUS IMAGING CORP.  ", "E-M10", "OLYMPUS E-M10"),
        ("OLYMPUS OPTICAL CO.,LTD", "C2500L", "OLYMPUS C2500L"),
        ("EASTMAN KODAK COMPANY", "KODAK Z990 DIGITAL CAMERA", "KODAK Z990 DIGITAL CAMERA"),
        ("samsung\x00\x00\x00", "SM-G991B\x00", "samsung SM-G991B"),
        ("", "Pixel 7", "Pixel 7"),
        ("Google", "", "Google"),
        ("", "", ""),
        ("Fuji\tfilm", "X-T3\n", "Fuji film X-T3"),
    ],
)
def test_the_camera_is_make_and_model_tidied(make, model, camera):
    base = {tag: value for tag, value in ((MAKE, make), (MODEL, model)) if value}
    assert exif_read(photo(base=base)).camera == camera


def test_a_very_long_camera_name_is_cut_to_the_column():
    facts = exif_read(photo(base={MAKE: "M" * 300, MODEL: "X" * 300}))
    assert len(facts.camera) == 128


def test_an_offset_gives_the_exact_moment_with_its_subseconds():
    main = {ORIGINAL: "2024:02:29 23:30:00", OFFSET_ORIGINAL: "-05:00", SUBSEC_ORIGINAL: "25"}
    facts = exif_read(photo(main=main))
    assert facts.captured_at == dt.datetime(2024, 3, 1, 4, 30, 0, 250_000, tzinfo=dt.UTC)


def test_a_time_without_offset_is_read_in_the_zone_given():
    main = {ORIGINAL: "2023:07:14 18:02:33"}
    assert exif_read(photo(main=main)).captured_at == dt.datetime(
        2023, 7, 14, 18, 2, 33, tzinfo=dt.UTC
    )
    assert exif_read(photo(main=main), naive_zone=PARIS).captured_at == dt.datetime(
        2023, 7, 14, 16, 2, 33, tzinfo=dt.UTC
    )


def test_without_an_original_time_the_files_time_counts():
    facts = exif_read(photo(base={DATETIME: "2020:01:02 03:04:05", ExifTags.Base.OffsetTime: "Z"}))
    assert facts.captured_at == dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_the_original_time_wins_over_the_files_time_even_in_ifd0():
    base = {DATETIME: "2024:05:05 10:00:00", ORIGINAL: "2019:05:05 10:00:00"}
    assert exif_read(photo(base=base)).captured_at.year == 2019


@pytest.mark.parametrize(
    "value",
    [
        "0000:00:00 00:00:00",
        "    :  :     :  :  ",
        "2023:13:40 25:61:00",
        "yesterday",
        "",
        "1901:01:01",
    ],
)
def test_a_junk_time_is_none(value):
    assert exif_read(photo(main={ORIGINAL: value})).captured_at is None


@pytest.mark.parametrize("offset", ["+25:00", "nonsense", "+02:99"])
def test_a_junk_offset_is_ignored_and_the_time_kept(offset):
    main = {ORIGINAL: "2023:07:14 18:02:33", OFFSET_ORIGINAL: offset}
    assert exif_read(photo(main=main)).captured_at == dt.datetime(
        2023, 7, 14, 18, 2, 33, tzinfo=dt.UTC
    )


def test_a_time_at_the_end_of_the_calendar_is_none_rather_than_an_overflow():
    main = {ORIGINAL: "9999:12:31 23:59:59", OFFSET_ORIGINAL: "-12:00"}
    assert exif_read(photo(main=main)).captured_at is None


def test_dashes_instead_of_colons_are_read():
    facts = exif_read(photo(main={ORIGINAL: "2023-07-14T18:02:33"}))
    assert facts.captured_at == dt.datetime(2023, 7, 14, 18, 2, 33, tzinfo=dt.UTC)


def test_an_image_without_exif_gives_blanks():
    buffer = io.BytesIO()
    PILImage.new("L", (4, 4)).save(buffer, format="PNG")
    assert exif_read(buffer.getvalue()) == PhotoFacts()


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM"])
def test_what_is_no_image_gives_blanks(data):
    assert exif_read(data) == PhotoFacts()


def test_exif_whose_offsets_point_nowhere_gives_blanks():
    data = bytearray(photo(**PHONE))
    at = data.index(b"Exif\x00\x00") + 6
    data[at + 4 : at + 8] = b"\x7f\xff\xff\xff"  # IFD0 far past the end
    assert exif_read(bytes(data)) == PhotoFacts()


def test_random_bytes_in_the_exif_never_raise():
    """Every byte of a real EXIF block flipped in turn: blanks or values, never an error."""
    data = photo(**PHONE)
    start = data.index(b"Exif\x00\x00") + 6
    end = start + int.from_bytes(data[start - 8 : start - 6], "big") - 8
    for position in range(start, end):
        broken = bytearray(data)
        broken[position] ^= 0xFF
        facts = exif_read(bytes(broken))
        assert isinstance(facts, PhotoFacts)


def test_fractions_and_decimals_are_numbers_too():
    gps = {1: "N", 2: (Fraction(97, 2), 0, 0), 3: "W", 4: (2.5,)}
    facts = exif_read(photo(gps=gps))
    assert (facts.latitude, facts.longitude) == (48.5, -2.5)
