"""An ICC colour profile with nothing but its colour: what a stripped copy carries.

A profile is colour data and text: its description, copyright, the maker's and model's
names of the device it was measured on (a calibrated monitor or camera often names its
owner), and any private tag a program wrote. The copy served below lead keeps the
colour (a wide-gamut photo shows as it should) by a list of what to keep: the header's
colour fields, and the tags that draw colour whose data is of a numeric type; the
profile's description is replaced by ``ICC``. A profile that cannot be read is left out.
Nothing here imports Django or decodes pixels.
"""

from __future__ import annotations

import struct

# Profiles are kilobytes (a few hundred for lookup tables); anything larger is not kept.
MAX_PROFILE_BYTES = 4 * 1024 * 1024

_HEADER = 128
# Tags that say how to draw colour (ICC.1:2022, section 9.2): colorants, white and black
# points, tone curves, lookup tables, chromatic adaptation, and the CICP code points.
_KEPT_TAGS = {
    b"rXYZ", b"gXYZ", b"bXYZ", b"wtpt", b"bkpt", b"lumi", b"chad", b"chrm", b"cicp",
    b"rTRC", b"gTRC", b"bTRC", b"kTRC", b"gamt", b"tech", b"meas",
    b"A2B0", b"A2B1", b"A2B2", b"B2A0", b"B2A1", b"B2A2", b"pre0", b"pre1", b"pre2",
    b"D2B0", b"D2B1", b"D2B2", b"D2B3", b"B2D0", b"B2D1", b"B2D2", b"B2D3",
}  # fmt: skip
# The types their data may be of: numbers only (no text type, no dictionary).
_NUMERIC_TYPES = {
    b"XYZ ", b"curv", b"para", b"sf32", b"mft1", b"mft2", b"mAB ", b"mBA ", b"mpet",
    b"chrm", b"cicp", b"meas", b"sig ", b"uf32", b"ui08", b"ui16", b"ui32", b"ui64",
}  # fmt: skip
# Header fields that name or date rather than say colour: the preferred CMM (4-7), the
# date (24-35), the device's maker, model and attributes (48-63), the creator and the
# profile ID (80-99, an MD5 of the rest: zero says not computed).
_HEADER_CLEARED = ((4, 8), (24, 36), (48, 64), (80, 100))


def icc_colour_only(profile: bytes) -> bytes | None:
    """``profile`` with its colour only (see the module), or None when it cannot be read."""
    if not _HEADER + 4 <= len(profile) <= MAX_PROFILE_BYTES or profile[36:40] != b"acsp":
        return None
    (count,) = struct.unpack(">I", profile[_HEADER : _HEADER + 4])
    table_end = _HEADER + 4 + 12 * count
    if table_end > len(profile):
        return None
    kept: list[tuple[bytes, bytes]] = []
    for entry in range(count):
        at = _HEADER + 4 + 12 * entry
        signature = profile[at : at + 4]
        offset, size = struct.unpack(">II", profile[at + 4 : at + 12])
        data = profile[offset : offset + size]
        if offset < table_end or len(data) != size or size < 8:
            return None
        if signature in _KEPT_TAGS and data[:4] in _NUMERIC_TYPES:
            kept.append((signature, data))
    version = profile[8]
    kept.append((b"desc", _mluc("ICC") if version >= 4 else _text_description("ICC")))
    return _profile(profile[:_HEADER], kept)


def _profile(header: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A profile of ``header`` (its naming fields cleared) and ``tags``, shared data once."""
    table_end = _HEADER + 4 + 12 * len(tags)
    table, body, placed = bytearray(), bytearray(), {}
    for signature, data in tags:
        if data not in placed:
            placed[data] = table_end + len(body)
            body += data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", placed[data], len(data))
    out = bytearray(header)
    for start, end in _HEADER_CLEARED:
        out[start:end] = bytes(end - start)
    out += struct.pack(">I", len(tags)) + table + body
    out[0:4] = struct.pack(">I", len(out))
    return bytes(out)


def _text_description(text: str) -> bytes:
    """A version 2 ``textDescriptionType``: ASCII, with no Unicode nor ScriptCode text."""
    ascii_text = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + bytes(67)
    )


def _mluc(text: str) -> bytes:
    """A version 4 ``multiLocalizedUnicodeType`` of one record, en-US."""
    encoded = text.encode("utf-16-be")
    return (
        b"mluc\0\0\0\0"
        + struct.pack(">II", 1, 12)
        + b"enUS"
        + struct.pack(">II", len(encoded), 28)
        + encoded
    )
