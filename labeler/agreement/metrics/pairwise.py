"""Cohen's kappa and raw agreement between every pair of annotators.

Everything comes from three integer counts per pair of columns: the images both rated,
the images they gave the same category, and the chance term sum_c r_c s_c, where r_c and
s_c count how often each of the two gave category c on the images both rated. With n
shared images and x of them agreeing, kappa = (n x - sum_c r_c s_c) / (n^2 - sum_c r_c s_c),
which is Cohen's (p_o - p_e) / (1 - p_e) with p_o = x / n and p_e = sum_c r_c s_c / n^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from labeler.agreement.metrics.counts import Codes, Counts, Floats, check_codes, rated_by_two
from labeler.agreement.metrics.figures import NO_PAIRS, Figure, defined, undefined

NO_SHARED_ITEMS = "these two annotators rated no image in common"
ONE_SHARED_CATEGORY = (
    "on the images both rated, these two annotators used one and the same category "
    "throughout, so chance agreement is 1 and kappa is undefined"
)
NO_DEFINED_PAIR = (
    "kappa is undefined for every pair of annotators: each pair used one and the same "
    "category on all the images both rated"
)


@dataclass(frozen=True)
class PairCounts:
    """The integer counts behind Cohen's kappa for every pair of columns (a x a each)."""

    shared: Counts
    agreeing: Counts
    chance: Counts


@dataclass(frozen=True, eq=False)
class PairMatrix:
    """Cohen's kappa for every pair of annotators, indexed by codes column.

    ``kappa[i, j]`` is NaN on the diagonal and where undefined; ``n_items[i, j]`` counts the
    images both rated (on the diagonal: the images annotator i rated); ``agreement[i, j]``
    is the share of those images given the same category (NaN on the diagonal and where
    they share none). ``n_shared_items`` counts images rated by at least two annotators.
    """

    kappa: Floats
    n_items: Counts
    agreement: Floats
    n_shared_items: int

    def figure(self, i: int, j: int) -> Figure:
        """Cohen's kappa between annotators i and j as a figure."""
        n_items = int(self.n_items[i, j])
        if n_items == 0:
            return undefined(NO_SHARED_ITEMS, 0)
        if np.isnan(self.kappa[i, j]):
            return undefined(ONE_SHARED_CATEGORY, n_items)
        return defined(self.kappa[i, j], n_items)

    def pairs(self) -> list[tuple[int, int, Figure]]:
        """Every pair i < j of annotator columns with its kappa figure."""
        size = self.kappa.shape[0]
        return [(i, j, self.figure(i, j)) for i in range(size) for j in range(i + 1, size)]


def cohen_kappa_matrix(codes: Codes, k: int) -> PairMatrix:
    """Cohen's kappa, shared images and raw agreement for every pair of annotators.

    A pair is compared on the images both rated; its kappa is undefined (NaN) when they
    share none, or when both used one and the same category on all of them.
    """
    check_codes(codes, k)
    counts = pair_counts(codes, k)
    shared = counts.shared
    with np.errstate(divide="ignore", invalid="ignore"):
        agreement = np.where(shared > 0, counts.agreeing / shared, np.nan)
    np.fill_diagonal(agreement, np.nan)
    return PairMatrix(
        kappa=kappas(counts),
        n_items=shared,
        agreement=agreement,
        n_shared_items=rated_by_two(codes),
    )


def cohen_kappa_mean(matrix: PairMatrix) -> Figure:
    """The plain mean of Cohen's kappa over the pairs of annotators where it is defined."""
    upper = np.triu_indices(matrix.kappa.shape[0], k=1)
    values = matrix.kappa[upper]
    values = values[~np.isnan(values)]
    if values.size:
        return defined(values.mean(), matrix.n_shared_items)
    if matrix.n_shared_items == 0:
        return undefined(NO_PAIRS, 0)
    return undefined(NO_DEFINED_PAIR, matrix.n_shared_items)


def kappas(counts: PairCounts) -> Floats:
    """Cohen's kappa from pair counts: NaN on the diagonal and where undefined."""
    shared = counts.shared
    numerator = shared * counts.agreeing - counts.chance
    denominator = shared * shared - counts.chance
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(denominator > 0, numerator / denominator, np.nan)
    np.fill_diagonal(kappa, np.nan)
    return kappa


def pair_counts(codes: Codes, k: int) -> PairCounts:
    """Shared images, agreeing images and the chance term for every pair of columns."""
    given = _given_where_other_rated(codes, k)
    return PairCounts(
        shared=given.sum(axis=1),
        agreeing=_agreeing(codes, k),
        chance=np.einsum("icj,jci->ij", given, given),
    )


def _agreeing(codes: Codes, k: int) -> Counts:
    """How many images each pair of columns both rated with the same category."""
    columns: Codes = np.ascontiguousarray(codes.T, dtype=np.int8 if k <= 127 else np.int64)
    rated = columns >= 0
    size = columns.shape[0]
    out = np.zeros((size, size), dtype=np.int64)
    for i in range(size - 1):
        same = (columns[i + 1 :] == columns[i]) & rated[i]
        out[i, i + 1 :] = np.count_nonzero(same, axis=1)
    out += out.T
    out[np.diag_indices(size)] = np.count_nonzero(rated, axis=1)
    return out


def _given_where_other_rated(codes: Codes, k: int) -> Counts:
    """An (a, k, a) array: [i, c, j] counts images where column i gave c and column j rated.

    It is onehot.T @ rated, with onehot the sparse (n_items, a * k) indicator of (column,
    category) per image: the work grows with the number of ratings times a, not with k.
    """
    n_items, size = codes.shape
    rated = codes >= 0
    columns = (np.arange(size, dtype=np.int64) * k + codes)[rated]
    starts = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(rated, axis=1), out=starts[1:])
    onehot = sparse.csr_matrix((np.ones(columns.size), columns, starts), shape=(n_items, size * k))
    given = np.asarray(onehot.T @ rated.astype(np.float64))
    # Sums of ones in float64 are exact integers below 2**53.
    return np.rint(given).astype(np.int64).reshape(size, k, size)
