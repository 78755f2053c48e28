"""Phone-sized photos, built here: 4032 x 3024 JPEGs of about 3.4 MB, as a phone takes them.

Eight scenes are rendered (smooth colour fields with sensor-like noise, so that they
compress as photos do, not as flat test cards), each with a camera's EXIF; some turned
by their EXIF (orientation 6, as a phone held upright stores them) and some with a GPS
position. Every file written is one of them with a comment of its own after the start
marker: a different file (its own hash), the same work to decode. Used by
``bench/photos.py`` and kept on disk between runs.
"""

from __future__ import annotations

import functools
import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

SIZE = (4032, 3024)
SCENES = 8
QUALITY = 88
_ORIENTATION, _MAKE, _MODEL, _GPS = 0x0112, 0x010F, 0x0110, 0x8825


def photos_write(folder: Path, count: int) -> list[Path]:
    """``count`` distinct photos in ``folder`` (those already there are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"IMG_{number:05d}.jpg"
        if not path.exists():
            path.write_bytes(photo(number))
        paths.append(path)
    return paths


def photo(number: int) -> bytes:
    """Photo ``number``: its scene's bytes with a comment naming it after the start marker."""
    scene = scene_bytes(number % SCENES)
    text = f"photo {number}".encode()
    comment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return scene[:2] + comment + scene[2:]


@functools.cache
def scene_bytes(scene: int) -> bytes:
    """One scene as a camera's JPEG."""
    rng = np.random.default_rng(scene)
    width, height = SIZE
    coarse = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    smooth = PILImage.fromarray(coarse).resize(SIZE, PILImage.Resampling.BILINEAR)
    pixels = np.asarray(smooth).astype(np.int16)
    pixels += rng.integers(-8, 8, (height, width, 1), dtype=np.int16)  # sensor noise
    image = PILImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    exif = PILImage.Exif()
    exif[_MAKE], exif[_MODEL] = "Acme", "Acme Phone 12"
    if scene % 4 == 1:
        exif[_ORIENTATION] = 6
    if scene % 4 == 2:
        exif[_GPS] = {1: "N", 2: (52.0, 22.0, 3.5), 3: "E", 4: (4.0, 53.0, 12.0)}
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=QUALITY, exif=exif)
    return buffer.getvalue()
