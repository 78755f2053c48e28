"""Agreement over all annotators at once: Fleiss' kappa, Krippendorff's alpha, raw agreement.

Each is a ratio of sums over the images rated at least twice (see ``tallies``), so any
number of annotators, and any mix of who rated what, costs one pass over the ratings. The
ratios are written once, over arrays of sums (``GroupSums``): one group for a whole codes
matrix, or many for the weeks of a project or the draws of a bootstrap (``*_of``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from labeler.agreement.metrics.counts import Codes, Floats, check_codes
from labeler.agreement.metrics.figures import (
    NO_PAIRS,
    ONE_CATEGORY_ALPHA,
    ONE_CATEGORY_KAPPA,
    Figure,
    defined,
    undefined,
)
from labeler.agreement.metrics.groups import GroupSums
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
    return fleiss_kappa_of(GroupSums.of(tally(codes, k)))[0]


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
    return krippendorff_alpha_of(GroupSums.of(tally(codes, k)))[0]


def percent_agreement(codes: Codes, k: int) -> Figure:
    """The share of agreeing pairs among all pairs of ratings given to the same image.

    Every unordered pair of two ratings on one image counts once, pooled over all images
    rated at least twice, so an image with more raters weighs more (it has more pairs).
    Undefined when no image has two ratings.
    """
    check_codes(codes, k)
    return percent_agreement_of(GroupSums.of(tally(codes, k)))[0]


def fleiss_kappa_of(sums: GroupSums) -> list[Figure]:
    """``fleiss_kappa`` of each group of ``sums``."""
    return _figures(sums, fleiss_kappa_values(sums), ONE_CATEGORY_KAPPA)


def krippendorff_alpha_of(sums: GroupSums) -> list[Figure]:
    """``krippendorff_alpha`` of each group of ``sums``."""
    return _figures(sums, krippendorff_alpha_values(sums), ONE_CATEGORY_ALPHA)


def percent_agreement_of(sums: GroupSums) -> list[Figure]:
    """``percent_agreement`` of each group of ``sums``."""
    return _figures(sums, percent_agreement_values(sums), None)


def fleiss_kappa_values(sums: GroupSums) -> Floats:
    """Fleiss' kappa of each group (see ``fleiss_kappa``), NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = sums.totals / sums.totals.sum(axis=1, keepdims=True)
        chance = (shares * shares).sum(axis=1)
        observed = sums.agreement / sums.n_items
        value = (observed - chance) / (1.0 - chance)
    return np.where(_several_categories(sums), value, np.nan)


def krippendorff_alpha_values(sums: GroupSums) -> Floats:
    """Krippendorff's nominal alpha of each group (``krippendorff_alpha``), NaN if undefined."""
    n = sums.totals.sum(axis=1)
    by_chance = (sums.totals * (sums.totals - 1.0)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = ((n - 1.0) * sums.matching - by_chance) / (n * (n - 1.0) - by_chance)
    return np.where(_several_categories(sums), value, np.nan)


def percent_agreement_values(sums: GroupSums) -> Floats:
    """The pooled share of agreeing pairs of each group, NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = sums.agreeing_pairs / sums.all_pairs
    return np.where(sums.n_items > 0, value, np.nan)


def _several_categories(sums: GroupSums) -> npt.NDArray[np.bool_]:
    """Groups with a pairable image and pairable ratings in more than one category."""
    return (sums.n_items > 0) & (np.count_nonzero(sums.totals, axis=1) > 1)


def _figures(sums: GroupSums, values: Floats, one_category: str | None) -> list[Figure]:
    """Figures from the values, with the reason where a group's value is undefined."""
    figures = []
    for value, n_items in zip(values.tolist(), sums.n_items.tolist(), strict=True):
        if n_items == 0:
            figures.append(undefined(NO_PAIRS, 0))
        elif value != value:  # NaN: every pairable rating is one category
            figures.append(undefined(one_category or NO_PAIRS, int(n_items)))
        else:
            figures.append(defined(value, int(n_items)))
    return figures
