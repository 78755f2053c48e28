"""Agreement broken down by category: the coincidence (confusion) matrix and per-label kappa."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeler.agreement.metrics.counts import Codes, Counts, check_codes, count_blocks
from labeler.agreement.metrics.figures import NO_PAIRS, Figure, defined, undefined
from labeler.agreement.metrics.tallies import Tallies, tally

NEVER_PAIRED = "no annotator gave this label to an image that another annotator also rated"
ALWAYS_USED = (
    "every rating of the images rated at least twice is this label, so chance agreement "
    "is 1 and kappa is undefined"
)


@dataclass(frozen=True)
class LabelFigures:
    """Agreement on one category (codes value), treated as 'this label or not'.

    ``n_ratings`` counts every rating that chose it, on any image. ``kappa`` is Fleiss'
    kappa on the one-vs-rest recoding. ``specific_agreement`` is the proportion of specific
    agreement: of the pairs of ratings on one image where at least one side chose this
    label, counted once from each side, the share where both did.

    ``kappa`` carries no interval: being a multi-rater kappa, it has no per-pair table for
    an asymptotic one, and a bootstrap per label (``with_ci`` on the binary recoding, the
    fastest path) costs about half a second per label on a million ratings, several times
    the report's budget for ten labels.
    """

    category: int
    n_ratings: int
    kappa: Figure
    specific_agreement: Figure


def confusion_matrix(codes: Codes, k: int, counts: Counts | None = None) -> Counts:
    """The k x k counts of images by the categories two of their annotators gave them.

    Entry [c, d], c != d, counts the images where one annotator gave c and another d; entry
    [c, c] counts the images where at least two annotators gave c. Each image counts once
    in a cell whatever the number of its ratings: with two annotators an image, an image
    they agreed on adds 1 to one diagonal entry, and one they did not agree on adds 1 to
    [c, d] and to its mirror [d, c], so the matrix is symmetric and its upper triangle
    counts each disagreeing image once. Images rated once contribute nothing. Costs
    n_items * k^2 multiplications (by BLAS), so it is best kept to tens of categories.
    ``counts``, where given, is ``category_counts(codes, k)``, not counted again.
    """
    check_codes(codes, k)
    together = np.zeros((k, k), dtype=np.float64)
    agreed = np.zeros(k, dtype=np.int64)
    for block in count_blocks(codes, k, counts):
        # Float products go through BLAS; these integer sums stay far below 2**53, so exact.
        given = (block > 0).astype(np.float64)
        together += given.T @ given
        agreed += (block >= 2).sum(axis=0)
    matrix = np.rint(together).astype(np.int64)
    np.fill_diagonal(matrix, agreed)
    return matrix


def per_label(codes: Codes, k: int) -> list[LabelFigures]:
    """One-vs-rest agreement figures for each category 0..k-1."""
    check_codes(codes, k)
    return per_label_of(tally(codes, k))


def per_label_of(sums: Tallies) -> list[LabelFigures]:
    """``per_label`` from the tallies of the codes (one pass shared with other figures)."""
    k = sums.totals.size
    return [
        LabelFigures(
            category=c,
            n_ratings=int(sums.ratings[c]),
            kappa=_one_vs_rest_kappa(sums, c),
            specific_agreement=_specific_agreement(sums, c),
        )
        for c in range(k)
    ]


def _one_vs_rest_kappa(sums: Tallies, category: int) -> Figure:
    """Fleiss' kappa on 'category or not': the same as ``fleiss_kappa`` on that recoding.

    With p the share of pairable ratings in the category, chance agreement is
    p^2 + (1 - p)^2 and each image's agreement is 1 - 2 n_c (m - n_c) / (m (m - 1)), so
    kappa = 1 - (mean over images of n_c (m - n_c) / (m (m - 1))) / (p (1 - p)).
    """
    if sums.n_items == 0:
        return undefined(NO_PAIRS, 0)
    used, every = int(sums.totals[category]), int(sums.totals.sum())
    if used == 0:
        return undefined(NEVER_PAIRED, sums.n_items)
    if used == every:
        return undefined(ALWAYS_USED, sums.n_items)
    share = used / every
    mixed = float(sums.mixed[category]) / sums.n_items
    return defined(1.0 - mixed / (share * (1.0 - share)), sums.n_items)


def _specific_agreement(sums: Tallies, category: int) -> Figure:
    paired = int(sums.paired[category])
    n_items = int(sums.images[category])
    if paired == 0:
        return undefined(NEVER_PAIRED, n_items)
    return defined(int(sums.agreeing[category]) / paired, n_items)
