"""The size of the frames an AVIF file really holds, read from its AV1 data, not its header.

An AVIF's header (the ``ispe`` property) says what size the image is, and Pillow and
libavif report that size; but the AV1 data of the image is decoded at the size its own
sequence header says, whatever ``ispe`` claims: 3 KB whose header says 64 x 64 can hold a
16384 x 16384 frame, 380 MB and more once decoded. So the items' data are found through
the ``iloc`` box and each one's AV1 sequence header is read (a few bytes), before anything
is decoded.
"""

from __future__ import annotations

from collections.abc import Iterator

_OBU_SEQUENCE_HEADER = 1


def avif_frame_pixels(data: bytes) -> int:
    """How many pixels the AV1 frames of this AVIF file's items add up to (0: none found).

    Every item holding AV1 data counts (a grid's tiles, an alpha plane): each is decoded.
    """
    return sum(width * height for width, height in avif_frame_sizes(data))


def avif_frame_sizes(data: bytes) -> list[tuple[int, int]]:
    """The largest frame each AV1 item's sequence header allows, in the file's order."""
    meta = _box(data, 0, len(data), b"meta")
    if meta is None:
        return []
    iloc = _box(data, meta[0] + 4, meta[1], b"iloc")  # meta is a full box: 4 bytes first
    if iloc is None:
        return []
    sizes = []
    for offset, length in _item_extents(data, *iloc):
        size = _sequence_size(data[offset : offset + min(length, 4096)])
        if size is not None:
            sizes.append(size)
    return sizes


def box_bodies(data: bytes, kind: bytes) -> list[tuple[int, int]]:
    """The bodies (start, end) of every box of this kind in the file's ``meta`` box or
    among its item properties (``meta/iprp/ipco``)."""
    meta = _box(data, 0, len(data), b"meta")
    if meta is None:
        return []
    parents = [(meta[0] + 4, meta[1])]  # meta is a full box: 4 bytes first
    properties = _box(data, *parents[0], b"iprp")
    container = _box(data, *properties, b"ipco") if properties is not None else None
    if container is not None:
        parents.append(container)
    return [body for parent in parents for body in _children(data, *parent, kind)]


def _children(data: bytes, start: int, end: int, kind: bytes) -> list[tuple[int, int]]:
    found = []
    position = start
    while position + 8 <= end:
        size = int.from_bytes(data[position : position + 4], "big")
        if size < 8:
            break
        if data[position + 4 : position + 8] == kind:
            found.append((position + 8, min(position + size, end)))
        position += size
    return found


def _box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """The body (start, end) of the first box of this kind between start and end."""
    position = start
    while position + 8 <= end:
        size = int.from_bytes(data[position : position + 4], "big")
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[position + 8 : position + 16], "big"), 16
        elif size == 0:
            size = end - position
        if size < header:
            return None
        if data[position + 4 : position + 8] == kind:
            return position + header, min(position + size, end)
        position += size
    return None


def _item_extents(data: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(file offset, length) of each item's first extent stored in the file itself."""
    body = data[start:end]
    version = body[0]
    sizes = body[4], body[5]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15) if version in (1, 2) else 0
    position = 6
    width = 2 if version < 2 else 4
    count = int.from_bytes(body[position : position + width], "big")
    position += width

    def field(size: int) -> int:
        nonlocal position
        value = int.from_bytes(body[position : position + size], "big")
        position += size
        return value

    for _ in range(count):
        field(width)  # item id
        method = field(2) & 15 if version in (1, 2) else 0
        field(2)  # data reference index
        base = field(base_size)
        extents = field(2)
        for index in range(extents):
            field(index_size)
            offset, length = field(offset_size), field(length_size)
            if index == 0 and method == 0:
                yield base + offset, length or len(data)
        if position > len(body):
            return


def _sequence_size(obus: bytes) -> tuple[int, int] | None:
    """The largest frame size in the AV1 sequence header among these OBUs, if there is one."""
    position = 0
    while position < len(obus):
        header = obus[position]
        kind, extension, sized = (header >> 3) & 15, header & 4, header & 2
        position += 2 if extension else 1
        length = len(obus) - position
        if sized:
            length, position = _leb128(obus, position)
        if kind == _OBU_SEQUENCE_HEADER:
            return _max_frame_size(_Bits(obus[position : position + length]))
        position += length
    return None


def _leb128(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for index in range(8):
        byte = data[position] if position < len(data) else 0
        value |= (byte & 0x7F) << (7 * index)
        position += 1
        if not byte & 0x80:
            break
    return value, position


class _Bits:
    """Big-endian bits, as AV1 headers are written (past the end: zeros)."""

    def __init__(self, data: bytes) -> None:
        self.value, self.left = int.from_bytes(data, "big"), 8 * len(data)

    def read(self, count: int) -> int:
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1) if self.left >= 0 else 0


def _max_frame_size(bits: _Bits) -> tuple[int, int]:
    """max_frame_width_minus_1 and max_frame_height_minus_1 (AV1 specification 5.5.1)."""
    bits.read(3)  # seq_profile
    bits.read(1)  # still_picture
    if bits.read(1):  # reduced_still_picture_header
        bits.read(5)  # seq_level_idx[0]
    else:
        delay_bits, decoder_model = 0, False
        if bits.read(1):  # timing_info_present_flag
            bits.read(64)  # num_units_in_display_tick, time_scale
            if bits.read(1):  # equal_picture_interval: num_ticks_per_picture_minus_1, uvlc
                zeros = 0
                while not bits.read(1) and zeros < 32:
                    zeros += 1
                bits.read(zeros)
            decoder_model = bool(bits.read(1))
            if decoder_model:
                delay_bits = bits.read(5) + 1
                bits.read(32 + 5 + 5)
        display_delay = bits.read(1)
        for _ in range(bits.read(5) + 1):  # operating points
            bits.read(12)  # operating_point_idc
            if bits.read(5) > 7:  # seq_level_idx
                bits.read(1)  # seq_tier
            if decoder_model and bits.read(1):
                bits.read(2 * delay_bits + 1)
            if display_delay and bits.read(1):
                bits.read(4)
    width_bits, height_bits = bits.read(4) + 1, bits.read(4) + 1
    return bits.read(width_bits) + 1, bits.read(height_bits) + 1
