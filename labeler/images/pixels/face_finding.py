"""Faces found in an image's pixels: OpenCV's bundled Haar cascades (frontal and profile).

Loaded by the faces task only (``worker.tasks.faces_detect``), never by the web process
at import: OpenCV is some 60 MB of native code.

Small images are enlarged to ``SMALL_SIDE`` first, and every image gets a border of
repeated edge pixels, so a crop that is all face (a 25-pixel passport crop) still has
the margin a cascade's window needs around a face. On scikit-image's samples it finds
the astronaut's face, 99 of the first 100 ``lfw_subset`` faces and one of its 100
non-faces, and nothing on the coffee, the cat or the rocket (two coins of the coins
photo pass for faces: a false face is blurred, a lead may delete it).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

SMALL_SIDE = 200
BORDER_SHARE = 0.3
MIN_FACE_SHARE = 0.04
# (cascade file, mirrored, neighbours): the profile cascade finds faces turned left;
# mirrored, right. The default frontal cascade finds a few faces alt2 misses (a tilted
# head) but also more that are none: it must be surer.
CASCADES = (
    ("haarcascade_frontalface_alt2.xml", False, 5),
    ("haarcascade_frontalface_default.xml", False, 6),
    ("haarcascade_profileface.xml", False, 5),
    ("haarcascade_profileface.xml", True, 5),
)


@functools.cache
def _cascade(file_name: str) -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(cv2.data.haarcascades + file_name)  # type: ignore[attr-defined]


def faces_find(pixels: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """Faces in an RGB or grey array: (left, top, width, height, score) in its pixels,
    the score the cascade's neighbour count (higher: surer)."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY) if pixels.ndim == 3 else pixels
    height, width = grey.shape
    scale = SMALL_SIDE / max(height, width) if max(height, width) < SMALL_SIDE else 1.0
    if scale != 1.0:
        size = (round(width * scale), round(height * scale))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_CUBIC)
    pad = round(max(grey.shape) * BORDER_SHARE)
    grey = cv2.equalizeHist(cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE))
    smallest = max(20, round(min(grey.shape) * MIN_FACE_SHARE))
    found: list[tuple[float, float, float, float, float]] = []
    for file_name, mirrored, neighbours in CASCADES:
        image = cv2.flip(grey, 1) if mirrored else grey
        boxes, weights = _cascade(file_name).detectMultiScale2(
            image, scaleFactor=1.1, minNeighbors=neighbours, minSize=(smallest, smallest)
        )
        for (x, y, w, h), weight in zip(boxes, weights, strict=True):
            left = image.shape[1] - x - w if mirrored else x
            found.append(
                ((left - pad) / scale, (y - pad) / scale, w / scale, h / scale, float(weight))
            )
    return _merged(found)


def _merged(
    boxes: list[tuple[float, float, float, float, float]],
) -> list[tuple[float, float, float, float, float]]:
    """The boxes with those mostly covering a box already kept (a face found by two
    cascades) left out."""
    kept: list[tuple[float, float, float, float, float]] = []
    for box in sorted(boxes, key=lambda b: -b[4]):
        if all(_overlap(box, other) < 0.5 for other in kept):
            kept.append(box)
    return kept


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The share of the smaller box that the two share."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])
