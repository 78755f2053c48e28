"""The size of the frames a HEIC file's HEVC data really holds, read from its parameter
sets, not from its header.

As with AVIF (``labeler.images.pixels.avif``), a HEIC's header (``ispe``) says what size the
image is and the decoder decodes whatever size the HEVC data says: each ``hvcC`` box's
sequence parameter set names the coded picture's width and height, read here before
anything is decoded.
"""

from __future__ import annotations

from labeler.images.pixels.avif import box_bodies

_SPS = 33  # the NAL unit type of a sequence parameter set


def heif_frame_pixels(data: bytes) -> int:
    """The most pixels any of the file's HEVC pictures holds (0: none found).

    A grid's tiles share a parameter set each, and are decoded one after another.
    """
    sizes = [_sps_size(data[start:end]) for start, end in box_bodies(data, b"hvcC")]
    return max((w * h for w, h in filter(None, sizes)), default=0)


def _sps_size(config: bytes) -> tuple[int, int] | None:
    """pic_width_in_luma_samples and pic_height_in_luma_samples of the hvcC's SPS."""
    if len(config) < 23:
        return None
    position = 23
    for _ in range(config[22]):  # numOfArrays
        kind = config[position] & 0x3F
        count = int.from_bytes(config[position + 1 : position + 3], "big")
        position += 3
        for _ in range(count):
            length = int.from_bytes(config[position : position + 2], "big")
            unit = config[position + 2 : position + 2 + length]
            position += 2 + length
            if kind == _SPS:
                return _picture_size(_Golomb(_unescaped(unit[2:])))
    return None


def _unescaped(payload: bytes) -> bytes:
    """The RBSP: each emulation prevention byte (0x03 after two zeros) taken out."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


class _Golomb:
    """Big-endian bits with Exp-Golomb codes, as HEVC headers are written."""

    def __init__(self, data: bytes) -> None:
        self.value, self.left = int.from_bytes(data, "big"), 8 * len(data)

    def read(self, count: int) -> int:
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1) if self.left >= 0 else 0

    def unsigned(self) -> int:
        zeros = 0
        while not self.read(1) and zeros < 32 and self.left > 0:
            zeros += 1
        return (1 << zeros) - 1 + self.read(zeros)


def _picture_size(bits: _Golomb) -> tuple[int, int]:
    """The SPS read up to the picture size (H.265 7.3.2.2)."""
    bits.read(4)  # sps_video_parameter_set_id
    sub_layers = bits.read(3)  # sps_max_sub_layers_minus1
    bits.read(1)  # sps_temporal_id_nesting_flag
    bits.read(96)  # general profile (88 bits) and level (8 bits)
    present = [(bits.read(1), bits.read(1)) for _ in range(sub_layers)]
    if sub_layers:
        bits.read(2 * (8 - sub_layers))  # reserved_zero_2bits
    for profile, level in present:
        bits.read(88 * profile + 8 * level)
    bits.unsigned()  # sps_seq_parameter_set_id
    if bits.unsigned() == 3:  # chroma_format_idc
        bits.read(1)  # separate_colour_plane_flag
    return bits.unsigned(), bits.unsigned()
