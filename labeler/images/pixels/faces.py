"""Faces blurred: the one function every copy people see or export is blurred with.

A project that blurs faces (``blur_faces``) keeps its originals as they were sent; the
worker finds the faces (``face_finding.py``, in the worker only) and stores their boxes
(``FaceRegion``, in the upright original's pixels), and every copy derived from an
original for someone who does not see originals (thumbnails, display copies, the
full-size copy, export members) goes through ``faces_blur``. Pure: pixels and boxes in,
pixels out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageFilter

from labeler.images.pixels.decoding import image_decode_upright

# Each box grows by this share of its size on every side: a detector's box is tight on
# the face and leaves hair, ears and chin outside it.
PADDING = 0.15
# The face is first shrunk to this many cells across (no feature survives it), then
# smoothed with a radius of this share of its size, so no blocky edge is left to read.
PIXEL_CELLS = 6
BLUR_SHARE = 0.12
BLURRED_JPEG_QUALITY = 90


@dataclass(frozen=True)
class FaceBox:
    """A face's box in the upright original's pixels."""

    left: int
    top: int
    width: int
    height: int


def padded(box: FaceBox, *, scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box in a copy ``scale`` times the original's size, padded by ``PADDING`` and
    clipped to the copy's ``size``: (left, top, right, bottom)."""
    pad_x, pad_y = box.width * PADDING, box.height * PADDING
    left = max(0, int((box.left - pad_x) * scale))
    top = max(0, int((box.top - pad_y) * scale))
    right = min(size[0], round((box.left + box.width + pad_x) * scale) + 1)
    bottom = min(size[1], round((box.top + box.height + pad_y) * scale) + 1)
    return left, top, right, bottom


def faces_blur(
    image: PILImage.Image, regions: Sequence[FaceBox], *, scale: float = 1.0
) -> PILImage.Image:
    """``image`` with every box in ``regions`` pixelated then smoothed; a new image, or
    ``image`` itself when there is no box (so a faceless photo's copies are the same
    bytes as with blurring off).

    ``scale``: the copy's size against the upright original's (a thumbnail's 0.05).
    """
    if not regions:
        return image
    blurred = image.copy()
    for box in regions:
        left, top, right, bottom = padded(box, scale=scale, size=blurred.size)
        if right - left < 1 or bottom - top < 1:
            continue
        face = blurred.crop((left, top, right, bottom))
        width, height = face.size
        cells = max(1, min(PIXEL_CELLS, width, height))
        small = face.resize((cells, max(1, round(cells * height / width))), PILImage.Resampling.BOX)
        face = small.resize((width, height), PILImage.Resampling.NEAREST)
        radius = max(1.0, BLUR_SHARE * max(width, height))
        blurred.paste(face.filter(ImageFilter.GaussianBlur(radius)), (left, top))
    return blurred


def faces_blur_bytes(data: bytes, regions: Sequence[FaceBox]) -> tuple[bytes, str]:
    """An original's full-size copy with its faces blurred, upright and without metadata:
    (bytes, extension), a JPEG (a PNG where the picture has transparency)."""
    upright = image_decode_upright(data)
    if upright.mode not in ("RGB", "RGBA", "L"):
        upright = upright.convert("RGBA" if "A" in upright.mode else "RGB")
    blurred = faces_blur(upright, regions)
    buffer = io.BytesIO()
    if blurred.mode == "RGBA":
        blurred.save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    blurred.save(buffer, format="JPEG", quality=BLURRED_JPEG_QUALITY)
    return buffer.getvalue(), "jpg"


# What an export writes an image of each format as, when its faces are blurred.
_WRITTEN_AS = {"MPO": "JPEG", "HEIF": "JPEG"}


def faces_blur_encoded(data: bytes, regions: Sequence[FaceBox], image_format: str) -> bytes:
    """The image in ``data`` upright, its faces blurred, written again in ``image_format``
    (an export member's format) without metadata; ``data`` itself when there is no box."""
    if not regions:
        return data
    upright = image_decode_upright(data)
    target = _WRITTEN_AS.get(image_format, image_format)
    if target == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    elif upright.mode not in ("RGB", "RGBA", "L", "P"):
        upright = upright.convert("RGBA" if "A" in upright.mode else "RGB")
    blurred = faces_blur(upright if upright.mode != "P" else upright.convert("RGBA"), regions)
    buffer = io.BytesIO()
    options = {"quality": BLURRED_JPEG_QUALITY} if target in ("JPEG", "WEBP", "AVIF") else {}
    blurred.save(buffer, format=target, **options)
    return buffer.getvalue()
