"""Agreement over all annotators at once: Fleiss' kappa, Krippendorff's alpha, raw agreement.

Each is a ratio of sums over the images rated at least twice (see ``tallies``), so any
number of annotators, and any mix of who rated what, costs one pass over the ratings.
"""

from __future__ import annotations

import numpy as np

from labeler.agreement.metrics.counts import Codes, check_codes
from labeler.agreement.metrics.figures import (
    NO_PAIRS,
    ONE_CATEGORY_ALPHA,
    ONE_CATEGORY_KAPPA,
    Figure,
    defined,
    undefined,
)
from labeler.agreement.metrics.tallies import tally


def fleiss_kappa(codes: Codes, k: int) -> Figure:
    """Fleiss' kappa over every image rated by at least two annotators.

    Images rated once are left out. Images may have different numbers of raters n_i; the
    usual generalisation of Fleiss (1971) is used: each image's agreement is
    P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1)), the observed agreement P is the plain
    mean of P_i over the images, the category proportions p_j pool every rating of those
    images (p_j = sum_i n_ij / sum_i n_i), chance agreement is P_e = sum_j p_j^2, and
    kappa = (P - P_e) / (1 - P_e). With the same number of raters on every image this is
    exactly Fleiss' statistic (statsmodels' ``fleiss_kappa``). Undefined when no image has
    two ratings, or when every rating is one category (P_e = 1).
    """
    check_codes(codes, k)
    sums = tally(codes, k)
    if sums.n_items == 0:
        return undefined(NO_PAIRS, 0)
    if np.count_nonzero(sums.totals) == 1:
        return undefined(ONE_CATEGORY_KAPPA, sums.n_items)
    observed = sums.agreement / sums.n_items
    shares = sums.totals / sums.totals.sum()
    chance = float((shares * shares).sum())
    return defined((observed - chance) / (1.0 - chance), sums.n_items)


def krippendorff_alpha(codes: Codes, k: int) -> Figure:
    """Krippendorff's alpha for nominal data, from the coincidence matrix.

    Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": an image
    rated m_u >= 2 times adds n_uc (n_uk - [c == k]) / (m_u - 1) to coincidence o_ck; images
    with one rating are not pairable and are left out. With n_c the row sums of the
    coincidence matrix and n their total,
    alpha = ((n - 1) sum_c o_cc - sum_c n_c (n_c - 1)) / (n (n - 1) - sum_c n_c (n_c - 1)).
    Matches the ``krippendorff`` package's nominal alpha. Undefined when nothing is
    pairable, or when every pairable rating is one category (no expected disagreement).
    """
    check_codes(codes, k)
    sums = tally(codes, k)
    if sums.n_items == 0:
        return undefined(NO_PAIRS, 0)
    if np.count_nonzero(sums.totals) == 1:
        return undefined(ONE_CATEGORY_ALPHA, sums.n_items)
    n = int(sums.totals.sum())
    by_chance = int((sums.totals * (sums.totals - 1)).sum())
    alpha = ((n - 1) * sums.matching - by_chance) / (n * (n - 1) - by_chance)
    return defined(alpha, sums.n_items)


def percent_agreement(codes: Codes, k: int) -> Figure:
    """The share of agreeing pairs among all pairs of ratings given to the same image.

    Every unordered pair of two ratings on one image counts once, pooled over all images
    rated at least twice, so an image with more raters weighs more (it has more pairs).
    Undefined when no image has two ratings.
    """
    check_codes(codes, k)
    sums = tally(codes, k)
    if sums.n_items == 0:
        return undefined(NO_PAIRS, 0)
    return defined(sums.agreeing_pairs / sums.all_pairs, sums.n_items)
