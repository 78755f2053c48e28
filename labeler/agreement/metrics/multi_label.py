"""Agreement for multi-label projects, where each rating is a set of labels.

``label_sets`` has shape (n_items, n_annotators, n_labels): 1 where the annotator chose the
label for the image, 0 where they did not, and -1 across all labels where they did not rate
the image. Per-label agreement recodes it as one binary codes matrix per label (k = 2);
``mean_jaccard`` compares whole sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from labeler.agreement.metrics.counts import Codes
from labeler.agreement.metrics.figures import NO_PAIRS, Figure, defined, undefined

LabelSets = npt.NDArray[np.integer[Any]]
Words = npt.NDArray[np.uint64]

_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def check_label_sets(label_sets: LabelSets) -> npt.NDArray[np.bool_]:
    """Raise ValueError unless ``label_sets`` is well formed; return who rated what."""
    if not isinstance(label_sets, np.ndarray) or label_sets.ndim != 3:
        raise ValueError("label_sets must be a 3-D array: images x annotators x labels.")
    if not np.issubdtype(label_sets.dtype, np.integer) or label_sets.shape[2] == 0:
        raise ValueError("label_sets must hold integers and have at least one label.")
    if label_sets.size and (label_sets.min() < -1 or label_sets.max() > 1):
        raise ValueError("label_sets must hold 1 (chosen), 0 (not chosen) or -1 (not rated).")
    rated = label_sets[:, :, 0] >= 0
    if not np.array_equal(label_sets >= 0, np.broadcast_to(rated[..., None], label_sets.shape)):
        raise ValueError("A rating must be -1 for every label or for none.")
    return rated


def binary_matrices(label_sets: LabelSets) -> list[Codes]:
    """One (n_items, n_annotators) codes matrix per label, 1 = chosen, 0 = not, -1 = unrated.

    Each is a k = 2 codes matrix for the single-label metrics (``fleiss_kappa(m, 2)``...).
    """
    check_label_sets(label_sets)
    return [np.ascontiguousarray(label_sets[:, :, label]) for label in range(label_sets.shape[2])]


def mean_jaccard(label_sets: LabelSets) -> Figure:
    """The mean Jaccard similarity |A & B| / |A | B| over pairs of label sets on one image.

    Every unordered pair of two annotators' sets for the same image counts once, pooled over
    the images rated at least twice (an image with more raters has more pairs). Two empty
    sets count as 1: the annotators agree that no label applies. Undefined when no image
    has two ratings.
    """
    rated = check_label_sets(label_sets)
    raters = rated.sum(axis=1)
    keep = raters >= 2
    if not keep.any():
        return undefined(NO_PAIRS, 0)
    slots, raters = _rated_first(_as_words(label_sets[keep]), rated[keep], raters[keep])
    total = sum(_jaccard_with_earlier(slots, raters, slot) for slot in range(1, int(raters[0])))
    pairs = int((raters * (raters - 1) // 2).sum())
    return defined(total / pairs, int(keep.sum()))


def _as_words(label_sets: LabelSets) -> Words:
    """Each rating's label set as bits in uint64 words: (n_items, n_annotators, n_words)."""
    n_items, n_annotators, n_labels = label_sets.shape
    words = np.zeros((n_items, n_annotators, (n_labels + 63) // 64), dtype=np.uint64)
    for label in range(n_labels):
        chosen = (label_sets[:, :, label] == 1).astype(np.uint64)
        words[:, :, label // 64] |= chosen << np.uint64(label % 64)
    return words


def _rated_first(
    words: Words, rated: npt.NDArray[np.bool_], raters: npt.NDArray[np.int_]
) -> tuple[Words, npt.NDArray[np.int_]]:
    """Move each image's rated sets to its first slots and the most-rated images first.

    Then slot t of the first ``count(raters > t)`` images is always a real rating, so each
    slot is compared with the earlier ones over a prefix of images, without masks.
    """
    by_raters = np.argsort(-raters, kind="stable")
    words, rated, raters = words[by_raters], rated[by_raters], raters[by_raters]
    slot = np.cumsum(rated, axis=1) - 1
    image = np.broadcast_to(np.arange(rated.shape[0])[:, np.newaxis], rated.shape)
    slots = np.zeros_like(words)
    slots[image[rated], slot[rated]] = words[rated]
    return slots, raters


def _jaccard_with_earlier(slots: Words, raters: npt.NDArray[np.int_], slot: int) -> float:
    """The summed Jaccard similarity of each image's set in ``slot`` with its earlier ones."""
    rows = int(np.count_nonzero(raters > slot))
    earlier = slots[:rows, :slot]
    current = slots[:rows, slot : slot + 1]
    both = _bits_set(earlier & current)
    either = _bits_set(earlier | current)
    # (0 + 1) / 1 = 1 for two empty sets; otherwise both / either.
    empty = either == 0
    return float(((both + empty) / (either + empty)).sum())


def _bits_set(words: Words) -> npt.NDArray[np.unsignedinteger[Any]]:
    """How many bits are set across the last axis (the words of one label set)."""
    if words.shape[-1] == 1:  # up to 64 labels: skip a summing pass
        return _popcount(words[..., 0])
    return _popcount(words).sum(axis=-1, dtype=np.uint32)


def _popcount(words: Words) -> npt.NDArray[np.uint8]:
    """The number of set bits in each word."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(words)
    return _popcount_bytes(words)


def _popcount_bytes(words: Words) -> npt.NDArray[np.uint8]:
    """The number of set bits in each word, by a byte table (for numpy < 2.0)."""
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint8)
