"""What a photo's EXIF says about it: when it was taken, by which camera, and where.

Read from the file's header only (Pillow opens lazily; no pixel is decoded), when an image
is stored. EXIF is written by thousands of devices and edited by as many tools, and much
of it is wrong: every value is checked, and what cannot be read is left blank (a field
at a time, so a broken position does not lose the camera). Nothing here raises.

- **Capture time**: ``DateTimeOriginal`` (then ``DateTimeDigitized``, then ``DateTime``),
  with its sub-seconds, at the offset the matching ``OffsetTime*`` tag gives. A camera's
  clock has no zone, and most files say none: such a naive time is read in ``naive_zone``,
  which the caller sets to the server's ``TIME_ZONE`` (UTC by default). A deployment whose
  photos are taken where it runs thus records the right moment, and shows the camera's own
  wall clock back, since the API writes times in ``TIME_ZONE`` too.
- **Camera**: ``Make`` and ``Model`` tidied (``NIKON CORPORATION`` + ``NIKON D750`` is
  ``NIKON D750``; ``Apple`` + ``iPhone 12`` is ``Apple iPhone 12``).
- **Position**: ``GPSLatitude``/``GPSLongitude`` (degrees, minutes, seconds as rationals)
  with their N/S and E/W references, as signed decimal degrees. A position is both or
  neither; a void fix (``GPSStatus`` V) and 0, 0 (what receivers write without a fix)
  count as none. Positions held in XMP alone are not read.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import ExifTags
from PIL import Image as PILImage

from labeler.dates_in import moment_check
from labeler.errors import ValidationFailed
from labeler.images.pixels.decoding import image_exif

logger = logging.getLogger(__name__)
T = TypeVar("T")

_CAMERA_LENGTH = 128  # Image.camera's length
# (time, its offset, its sub-seconds), best first.
_TIMES = (
    (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal, 0x9291),
    (ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized, 0x9292),
    (ExifTags.Base.DateTime, ExifTags.Base.OffsetTime, 0x9290),
)
# "2023:07:14 18:02:33", and the dashes or T that some tools write instead.
_TIME = re.compile(r"(\d{4})[:\-/](\d\d)[:\-/](\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?")
_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)")
_FIRST_YEAR = 1826  # the oldest surviving photograph; earlier is a clock never set
# What a maker's name ends with, and what a model name never repeats.
_COMPANY = re.compile(
    r"[\s,]+(corporation|corp\.?|co\.?,?\s*ltd\.?|company|inc\.?|ltd\.?|gmbh|ag|s\.?a\.?|"
    r"imaging|optical|electric)$",
    re.IGNORECASE,
)
_LATITUDE_REFS = {"N": 1, "S": -1}
_LONGITUDE_REFS = {"E": 1, "W": -1}


@dataclass(frozen=True)
class PhotoFacts:
    """What a photo's EXIF says; blank (None, "") where it says nothing readable."""

    captured_at: dt.datetime | None = None
    camera: str = ""
    latitude: float | None = None
    longitude: float | None = None


def exif_read(data: bytes, *, naive_zone: dt.tzinfo = dt.UTC) -> PhotoFacts:
    """The capture time (aware, in UTC), camera and position an image's EXIF holds.

    ``naive_zone`` is the zone of a time that names no offset. Never raises: an image
    without EXIF, or with EXIF that cannot be read, gives blanks.
    """
    with warnings.catch_warnings():
        # Pillow warns of every odd tag as it reads it (lazily): blanks say enough.
        warnings.simplefilter("ignore")
        return _facts(data, naive_zone)


def _facts(data: bytes, naive_zone: dt.tzinfo) -> PhotoFacts:
    try:
        exif = image_exif(data)  # from the header: no pixels decoded
        main = _ifd(exif, ExifTags.IFD.Exif)
        gps = _ifd(exif, ExifTags.IFD.GPSInfo)
    except Exception:  # Pillow's EXIF parser lets a zoo of errors out; see _guarded
        logger.debug("EXIF could not be read", exc_info=True)
        return PhotoFacts()
    latitude, longitude = _guarded(_position, gps) or (None, None)
    return PhotoFacts(
        captured_at=_guarded(_captured_at, main, exif, naive_zone),
        camera=_guarded(_camera, exif) or "",
        latitude=latitude,
        longitude=longitude,
    )


def _ifd(exif: PILImage.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # a sub-IFD pointing anywhere: the rest of the EXIF still counts
        logger.debug("EXIF IFD %#x could not be read", tag, exc_info=True)
        return {}


def _guarded(read: Callable[..., T], *args: Any) -> T | None:
    """``read(*args)``, or None where the values are of a shape nobody expected.

    EXIF values are whatever a device wrote: text where numbers belong, rationals over
    zero, tuples of any length. Rather than foresee every shape, a reader that trips on
    one gives a blank for its field alone.
    """
    try:
        return read(*args)
    except Exception:
        logger.debug("EXIF value could not be read", exc_info=True)
        return None


def _text(value: Any) -> str:
    """A tag's value as clean text: bytes decoded, NULs and control characters out."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return ""
    printable = "".join(char if char.isprintable() else " " for char in value.replace("\0", " "))
    return " ".join(printable.split())


def _captured_at(
    main: Mapping[int, Any], base: Mapping[int, Any], naive_zone: dt.tzinfo
) -> dt.datetime | None:
    for time_tag, offset_tag, subsec_tag in _TIMES:
        tags = main if time_tag in main else base  # some writers put it in IFD0
        moment = _moment(tags.get(time_tag), tags.get(subsec_tag))
        if moment is None:
            continue
        zone = _zone(tags.get(offset_tag)) or naive_zone
        try:  # a year past the accepted ones (9999:12:31) is a clock wrongly set too
            return moment_check(moment.replace(tzinfo=zone), field="captured_at")
        except ValidationFailed:
            continue
    return None


def _moment(value: Any, subseconds: Any) -> dt.datetime | None:
    match = _TIME.match(_text(value))
    if match is None:
        return None
    year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
    second = int(match[6] or 0)
    if year < _FIRST_YEAR:  # 0000:00:00 00:00:00 and friends: a clock never set
        return None
    try:
        moment = dt.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    digits = _text(subseconds)
    if digits.isdigit():
        moment = moment.replace(microsecond=int(digits[:6].ljust(6, "0")))
    return moment


def _zone(value: Any) -> dt.timezone | None:
    text = _text(value)
    if text.upper() == "Z":
        return dt.UTC
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    hours, minutes = int(match[2]), int(match[3])
    if hours > 14 or minutes > 59:  # no place on Earth is further from UTC
        return None
    offset = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-offset if match[1] == "-" else offset)


def _camera(exif: Mapping[int, Any]) -> str:
    make = _text(exif.get(ExifTags.Base.Make))
    model = _text(exif.get(ExifTags.Base.Model))
    brand = make
    while _COMPANY.search(brand):
        brand = _COMPANY.sub("", brand)
    # A model that starts with any word of its maker's name already names it.
    first = model.split(" ", 1)[0].casefold() if model else ""
    if not brand or (first and first in brand.casefold().split()):
        name = model or make
    else:
        name = f"{brand} {model}".strip()
    return name[:_CAMERA_LENGTH].strip()


def _position(gps: Mapping[int, Any]) -> tuple[float, float] | None:
    if _text(gps.get(ExifTags.GPS.GPSStatus)).upper() == "V":  # a void measurement
        return None
    latitude = _coordinate(
        gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), _LATITUDE_REFS
    )
    longitude = _coordinate(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), _LONGITUDE_REFS
    )
    if latitude is None or longitude is None:
        return None
    if abs(latitude) > 90 or abs(longitude) > 180 or latitude == longitude == 0:
        return None
    return round(latitude, 7), round(longitude, 7)  # about a centimetre


def _coordinate(value: Any, ref: Any, refs: Mapping[str, int]) -> float | None:
    """Degrees, minutes and seconds (or fewer parts) and their reference, signed."""
    parts = value if isinstance(value, tuple | list) else (value,)
    if value is None or not 1 <= len(parts) <= 3:
        return None
    numbers = [_number(part) for part in parts]
    found = [number for number in numbers if number is not None]
    if len(found) < len(numbers):
        return None
    degrees, minutes, seconds = (*found, 0.0, 0.0)[:3]
    if not 0 <= minutes < 60 or not 0 <= seconds < 60:
        return None
    magnitude = abs(degrees) + minutes / 60 + seconds / 3600
    letter = _text(ref).upper()[:1]
    if not letter and (ref is None or isinstance(ref, str | bytes)):
        return math.copysign(magnitude, degrees)  # no reference: the value's own sign
    return refs[letter] * magnitude if letter in refs else None


def _number(value: Any) -> float | None:
    """A rational (Pillow's IFDRational, or a pair), an int or a float; finite or None."""
    if isinstance(value, tuple) and len(value) == 2:
        numerator, denominator = value
        value = numerator / denominator if denominator else math.nan
    if isinstance(value, bool | str | bytes) or not hasattr(value, "__float__"):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
