"""What decoding an image will hold in memory, worked out from its header before decoding.

``labeler.images.pixels.decoding`` opens the image and asks these: bytes a pixel for Pillow's
modes, what the decoders hold beside Pillow's image (libheif and libavif, BMP's
run-length expansion, libtiff's strip buffer), and a JPEG's buffers, from its frame
header and how many scans its markers count.
"""

from __future__ import annotations

import re

from PIL import Image as PILImage

SCALE = 8  # JPEG and WebP are checked at 1/SCALE of their size
PILLOW_WEBP_BYTES = 20  # a pixel decoded by Pillow's WebP decoder: canvas twice, copied twice
# A JPEG marker (RSTn aside). One 0xFF before it, not "\xff+": with a literal to look for,
# re skips to each 0xFF at C speed (3 ms over a 3 MB photo, against 60 ms).
_MARKER = re.compile(rb"\xff([^\x00\xff\xd0-\xd7])")
_MAX_MARKERS = 65_536


def megabytes(count: int) -> str:
    """A byte count as a refusal shows it: "12.5 MB"."""
    return f"{count / (1024 * 1024):,.1f} MB"


def pixel_bytes(mode: str) -> int:
    """What Pillow keeps per pixel: a byte for 1, L and P, two at 16 bits, four otherwise."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def ceil_div(numerator: int, denominator: int) -> int:
    """numerator / denominator, rounded up."""
    return -(-numerator // denominator)


def reduced_bytes(width: int, height: int, pixel_bytes: int) -> int:
    """What an image decoded at 1/SCALE holds."""
    return ceil_div(width, SCALE) * ceil_div(height, SCALE) * pixel_bytes


# HEIC and AVIF: the decoder's YUV planes and RGB output beside Pillow's image, measured
# at 3.9 and 5.9 bytes a pixel for 8-bit 12-megapixel photos; rounded up for 10-bit ones.
_DECODER_BYTES = {"HEIF": 6, "AVIF": 8}


def extra_cost(image: PILImage.Image, data: bytes) -> int:
    """What a whole decode holds beside Pillow's image, from the opened (unloaded) image."""
    width, height = image.size
    if image.format in _DECODER_BYTES:  # decoded whole: libheif and libavif cannot reduce
        return _DECODER_BYTES[image.format] * width * height
    if image.format == "BMP":  # run-length data is expanded in a bytearray, then copied, first
        return 2 * width * height
    if image.format == "TIFF":  # libtiff's strip or tile buffer, and the file read whole
        tags = image.tag_v2  # type: ignore[attr-defined]
        bits = tags.get(258, (8,))
        bits = sum(bits) if isinstance(bits, tuple) else int(bits) * int(tags.get(277, 1))
        if 322 in tags and 323 in tags:
            block = int(tags[322]) * int(tags[323]) * bits // 8
        else:
            block = min(int(tags.get(278, height)), height) * ((width * bits + 7) // 8)
        return block + len(data)
    return 0


def jpeg_cost(image: PILImage.Image, scans: int) -> tuple[str, int]:
    """A JPEG's kind as refusals name it, and what its 1/SCALE decode holds."""
    width, height = image.size
    layers = getattr(image, "layer", None) or [(1, 1, 1, 0)] * 3
    cost = reduced_bytes(width, height, pixel_bytes(image.mode)) + width * 128 * len(layers)
    progressive = bool(image.info.get("progressive"))
    if not progressive and scans <= 1:
        return "JPEG", cost
    most_h = max(layer[1] for layer in layers) or 1
    most_v = max(layer[2] for layer in layers) or 1
    for _, h, v, _ in layers:  # every coefficient: 64 of 2 bytes per 8 x 8 block
        columns = ceil_div(ceil_div(width * h, most_h), 8)
        cost += columns * ceil_div(ceil_div(height * v, most_v), 8) * 128
    return ("progressive JPEG" if progressive else "multi-scan JPEG"), cost


def jpeg_scan(data: bytes) -> tuple[int, bool]:
    """The first image's scans (several: libjpeg buffers it whole) and whether its end
    marker was reached: the markers walked, the entropy-coded data skipped over."""
    position, scans = 2, 0
    for _ in range(_MAX_MARKERS):
        match = _MARKER.search(data, position)
        if match is None:
            return scans, False  # the file ends inside the image
        if match[1] == b"\xd9":
            return scans, True
        position = match.end()
        if match[1] == b"\x01":  # TEM: no length
            continue
        if match[1] == b"\xda":
            scans += 1
        position += max(2, int.from_bytes(data[position : position + 2], "big"))
    return _MAX_MARKERS, False  # an endless run of markers: assume the worst
