"""The ratings array every metric takes, its checks, and per-image category counts.

A codes array has one row per image and one column per annotator; a value in ``0..k-1`` is
the category that annotator gave that image and ``-1`` means they did not rate it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.integer[Any]]
Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

NOT_RATED = -1
# A reference's (a consensus's) code for an image whose raters tied: it has no consensus,
# yet each annotator who rated it did not agree with one. The figures against a consensus
# count such an image as rated and not agreeing (``metrics.annotators``).
TIED = -2

# Cells (images x categories) in one block of counts, about 32 MiB of int64: memory stays
# bounded with hundreds of categories, and small projects fit in a single block.
BLOCK_CELLS = 1 << 22


def check_codes(codes: Codes, k: int) -> None:
    """Raise ValueError unless ``codes`` is a 2-D integer array with values in -1..k-1."""
    if not isinstance(codes, np.ndarray) or codes.ndim != 2:
        raise ValueError("codes must be a 2-D array: one row per image, one column per annotator.")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must hold integers, not {codes.dtype}.")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}.")
    if codes.size and (codes.min() < NOT_RATED or codes.max() >= k):
        raise ValueError(f"codes must lie in -1..{k - 1} (-1 meaning not rated).")


def check_reference(reference: Codes, n_items: int, k: int, name: str) -> None:
    """Raise ValueError unless ``reference`` is one code (or -1, or ``TIED``) per image."""
    if not isinstance(reference, np.ndarray) or reference.shape != (n_items,):
        raise ValueError(f"{name} must be a 1-D array with one entry per image ({n_items}).")
    check_codes(np.where(reference == TIED, NOT_RATED, reference).reshape(-1, 1), k)


def category_counts(codes: Codes, k: int) -> Counts:
    """How many annotators gave each image each category: an (n_items, k) array.

    Each image gets k + 1 bins, the first for -1 (not rated) and then one per category, so
    one bincount over every cell counts everything without masking out the unrated ones.
    """
    n_items, width = codes.shape[0], k + 1
    firsts = np.arange(1, n_items * width + 1, width, dtype=np.int64)
    cells = (firsts[:, np.newaxis] + codes).ravel()
    return np.bincount(cells, minlength=n_items * width).reshape(n_items, width)[:, 1:]


def count_blocks(codes: Codes, k: int, counts: Counts | None = None) -> Iterator[Counts]:
    """``category_counts`` for consecutive blocks of images, each of bounded size: slices
    of ``counts`` where that is ``category_counts(codes, k)`` counted already."""
    step = max(1, BLOCK_CELLS // k)
    for start in range(0, codes.shape[0], step):
        if counts is not None:
            yield counts[start : start + step]
        else:
            yield category_counts(codes[start : start + step], k)


@dataclass(frozen=True)
class SparseCounts:
    """The nonzero per-image category counts, one entry per (image, category) used.

    Image ``items[t]`` got ``counts[t]`` ratings in category ``categories[t]``;
    ``raters[i]`` is how many ratings image i got in all.
    """

    items: Counts
    categories: Counts
    counts: Counts
    raters: Counts


def sparse_counts(codes: Codes) -> SparseCounts:
    """The per-image category counts without their zeros, in time independent of k.

    Each image's ratings are sorted and the runs of equal codes counted.
    """
    raters = np.count_nonzero(codes >= 0, axis=1).astype(np.int64)
    items, categories, counts = _sorted_runs(codes)
    return SparseCounts(items=items, categories=categories, counts=counts, raters=raters)


def _sorted_runs(codes: Codes) -> tuple[Counts, Counts, Counts]:
    """Runs of equal codes in each row once sorted: where a run ends, its length and code."""
    ordered = np.sort(codes, axis=1)
    width = ordered.shape[1]
    if ordered.size == 0:
        return _empty(), _empty(), _empty()
    run_ends = np.empty(ordered.shape, dtype=bool)
    run_ends[:, -1] = True
    np.not_equal(ordered[:, :-1], ordered[:, 1:], out=run_ends[:, :-1])
    ends = np.flatnonzero(run_ends)
    # Every row's last cell ends a run, so the previous end of a row's first run is the last
    # cell of the row before: differences of flat positions are run lengths across rows too.
    lengths = np.diff(ends, prepend=-1)
    values = ordered.ravel()[ends]
    rated = values >= 0
    return ends[rated] // width, values[rated].astype(np.int64), lengths[rated]


def _empty() -> Counts:
    return np.zeros(0, dtype=np.int64)


def rated_by_two(codes: Codes) -> int:
    """How many images at least two annotators rated."""
    return int(np.count_nonzero(np.count_nonzero(codes >= 0, axis=1) >= 2))
