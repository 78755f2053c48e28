"""The sums over images that Fleiss' kappa, alpha, raw agreement and per-label figures need.

With n_ic the ratings of image i in category c and m_i = sum_c n_ic its ratings, every one of
those figures is a ratio of sums over the images rated at least twice (the pairable ones),
so one pass collects them all: over dense blocks of counts when categories are few, over
the nonzero counts only when they are many (the cost of a dense pass grows with k).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from labeler.agreement.metrics.counts import (
    Codes,
    Counts,
    Floats,
    category_counts,
    count_blocks,
    sparse_counts,
)

# Up to this many categories dense count blocks are faster than sorting each image's ratings.
DENSE_UP_TO = 32


@dataclass(frozen=True)
class Tallies:
    """Sums over the pairable images (``ratings`` alone counts every image).

    Writing a_i = sum_c n_ic (n_ic - 1) for image i's agreeing ordered pairs of ratings:
    ``agreement`` is sum_i a_i / (m_i (m_i - 1)), ``matching`` is sum_i a_i / (m_i - 1),
    ``agreeing_pairs`` sum_i a_i and ``all_pairs`` sum_i m_i (m_i - 1). Per category c:
    ``totals`` sum_i n_ic, ``ratings`` the same over every image, ``agreeing`` sum_i
    n_ic (n_ic - 1), ``paired`` sum_i n_ic (m_i - 1), ``mixed`` sum_i n_ic (m_i - n_ic) /
    (m_i (m_i - 1)), and ``images`` the number of images with at least one rating c.
    """

    n_items: int
    agreement: float
    matching: float
    agreeing_pairs: int
    all_pairs: int
    totals: Counts
    ratings: Counts
    agreeing: Counts
    paired: Counts
    mixed: Floats
    images: Counts


def tally(codes: Codes, k: int, counts: Counts | None = None) -> Tallies:
    """The tallies of ``codes``; ``counts``, where given, is its ``category_counts``."""
    if k > DENSE_UP_TO:
        return _sparse_tallies(codes, k)
    total = _empty(k)
    for block in count_blocks(codes, k, counts):
        total = _add(total, _dense_tallies(block))
    return total


def dense_counts(codes: Codes, k: int) -> Counts | None:
    """``category_counts(codes, k)`` to share between ``tally``, ``confusion_matrix`` and
    the bootstrap's sums, where categories are few enough that they count densely; else
    None (each then counts what it needs its own way)."""
    return category_counts(codes, k) if k <= DENSE_UP_TO else None


def _dense_tallies(counts: Counts) -> Tallies:
    """Tallies of one (images, k) block of counts."""
    raters = counts.sum(axis=1)
    pairable = raters >= 2
    table, m = counts[pairable], raters[pairable]
    same = np.einsum("ij,ij->i", table, table) - m
    pairs = m * (m - 1)
    values = table.astype(np.float64)
    # Float products go through BLAS; these integer sums stay far below 2**53, so exact.
    column_sums = np.stack([np.ones(m.size), m - 1.0]) @ values
    mixed = (1.0 / pairs) @ (values * (m[:, np.newaxis] - values))
    return Tallies(
        n_items=m.size,
        agreement=float((same / pairs).sum()),
        matching=float((same / (m - 1)).sum()),
        agreeing_pairs=int(same.sum()),
        all_pairs=int(pairs.sum()),
        totals=np.rint(column_sums[0]).astype(np.int64),
        ratings=counts.sum(axis=0),
        agreeing=np.rint(np.einsum("ij,ij->j", values, values) - column_sums[0]).astype(np.int64),
        paired=np.rint(column_sums[1]).astype(np.int64),
        mixed=mixed,
        images=np.count_nonzero(table, axis=0).astype(np.int64),
    )


def _sparse_tallies(codes: Codes, k: int) -> Tallies:
    """Tallies from the nonzero counts only."""
    found = sparse_counts(codes)
    raters = found.raters[found.items]
    pairable = raters >= 2
    categories, n, m = found.categories[pairable], found.counts[pairable], raters[pairable]
    same, pairs = n * (n - 1), m * (m - 1)
    image_raters = found.raters[found.raters >= 2]
    return Tallies(
        n_items=image_raters.size,
        agreement=float((same / pairs).sum()),
        matching=float((same / (m - 1)).sum()),
        agreeing_pairs=int(same.sum()),
        all_pairs=int((image_raters * (image_raters - 1)).sum()),
        totals=_by_category(categories, n, k),
        ratings=_by_category(found.categories, found.counts, k),
        agreeing=_by_category(categories, same, k),
        paired=_by_category(categories, n * (m - 1), k),
        mixed=np.bincount(categories, weights=n * (m - n) / pairs, minlength=k).astype(float),
        images=np.bincount(categories, minlength=k).astype(np.int64),
    )


def _by_category(categories: Counts, weights: Counts, k: int) -> Counts:
    # bincount sums weights in float64; these integer sums stay far below 2**53, so exact.
    return np.rint(np.bincount(categories, weights=weights, minlength=k)).astype(np.int64)


def _empty(k: int) -> Tallies:
    zeros = np.zeros(k, dtype=np.int64)
    return Tallies(0, 0.0, 0.0, 0, 0, zeros, zeros, zeros, zeros, np.zeros(k), zeros)


def _add(first: Tallies, second: Tallies) -> Tallies:
    sums = {
        field.name: getattr(first, field.name) + getattr(second, field.name)
        for field in dataclasses.fields(Tallies)
    }
    return Tallies(**sums)
