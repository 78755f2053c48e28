"""What blurring faces costs a phone photo, beside deriving its copies with blurring off.

    .venv/bin/python bench/faces.py                # also printed by make bench-photos
    .venv/bin/python bench/faces.py --repeat 5

In this process, one photo at a time (the worker's work, without the queue): phone-sized
photos (4032 x 3024 JPEGs), two with faces (scikit-image's astronaut and the camera man,
enlarged) and two of the faceless scenes of ``bench/photo_files.py``. The table gives,
for each kind of photo, the median milliseconds of

- the reference: the thumbnail and display copy made with blurring off
  (``previews_render``, as ``image_prepare`` does for every photo);
- the faces found: the photo decoded at ``DETECT_SIDE`` and OpenCV's cascades run;
- the copies again, blurred (``previews_render`` with ``faces_blur``);
- the full-size blurred copy an annotator is served (``faces_blur_bytes``, made once);

and the ratio of the whole to the reference.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parent.parent
SIZE = (4032, 3024)


def face_photo(pixels: np.ndarray) -> bytes:
    """A phone-sized JPEG of a sample photo, enlarged."""
    picture = PILImage.fromarray(pixels).convert("RGB").resize(SIZE, PILImage.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def photos() -> dict[str, bytes]:
    from skimage import data as samples

    from bench.photo_files import scene_bytes

    return {
        "astronaut (1 face)": face_photo(samples.astronaut()),
        "camera man (1 face)": face_photo(samples.camera()),
        "scene 0 (no face)": scene_bytes(0),
        "scene 3 (no face)": scene_bytes(3),
    }


def measure(data: bytes, repeat: int) -> dict[str, float]:
    """Median seconds of each step for one photo."""
    from bench.timing import timed
    from labeler.images.face_regions import DETECT_SIDE
    from labeler.images.pixels.decoding import image_decode_reduced_upright
    from labeler.images.pixels.face_finding import faces_find
    from labeler.images.pixels.faces import FaceBox, faces_blur, faces_blur_bytes
    from labeler.images.pixels.files import previews_render

    def previews(blur=None):
        return previews_render(data, display_size=1600, thumbnail_size=256, blur=blur)

    def detect() -> list[FaceBox]:
        upright = image_decode_reduced_upright(data, DETECT_SIDE)
        scale = SIZE[0] / upright.width
        found = faces_find(np.asarray(upright))
        return [FaceBox(*(round(v * scale) for v in box[:4])) for box in found]

    reference, _ = timed(previews, repeat)
    found_seconds, boxes = timed(detect, repeat)
    blur = (lambda rgb: faces_blur(rgb, boxes, scale=rgb.width / SIZE[0])) if boxes else None
    blurred, _ = timed(lambda: previews(blur), repeat)
    full, _ = timed(lambda: faces_blur_bytes(data, boxes), repeat) if boxes else (0.0, None)
    return {
        "faces": len(boxes),
        "reference": reference,
        "detect": found_seconds,
        "blurred": blurred,
        "full": full,
    }


def faces_table(repeat: int = 3) -> None:
    """Print the table (Django set up by the caller)."""
    print("\nFaces blurred, per 4032 x 3024 photo (median ms; ratio: all / reference)")
    head = f"{'photo':<22} {'faces':>5} {'reference':>9} {'find':>7} {'copies':>7} {'full':>7}"
    print(f"{head} {'ratio':>6}")
    for name, data in photos().items():
        m = measure(data, repeat)
        whole = m["detect"] + m["blurred"] + m["full"]
        print(
            f"{name:<22} {m['faces']:>5} {m['reference'] * 1000:>9.0f} {m['detect'] * 1000:>7.0f}"
            f" {m['blurred'] * 1000:>7.0f} {m['full'] * 1000:>7.0f} {whole / m['reference']:>6.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    import django

    django.setup()
    faces_table(options.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
