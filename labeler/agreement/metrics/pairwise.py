"""Cohen's kappa and raw agreement between every pair of annotators.

Everything comes from three integer counts per pair of columns: the images both rated,
the images they gave the same category, and the chance term sum_c r_c s_c, where r_c and
s_c count how often each of the two gave category c on the images both rated. With n
shared images and x of them agreeing, kappa = (n x - sum_c r_c s_c) / (n^2 - sum_c r_c s_c),
which is Cohen's (p_o - p_e) / (1 - p_e) with p_o = x / n and p_e = sum_c r_c s_c / n^2.

Each kappa's 95% interval is the asymptotic one, kappa +- 1.96 SE, with the large-sample
(non-null) standard error of J. L. Fleiss, J. Cohen and B. S. Everitt (1969), "Large sample
standard errors of kappa and weighted kappa", Psychological Bulletin 72(5):323-327: the
``std_kappa`` of statsmodels' ``cohens_kappa``. It is used rather than a bootstrap because
it costs a few sums over each pair's contingency table, for every pair at once, where a
bootstrap per pair would mean 190 bootstraps for 20 annotators. Being asymptotic, it is
unreliable on few shared images (with 10 or so it can be far too narrow, down to a single
point at kappa 1), which is why each figure also carries its ``n_items``. See
``spread_sums`` for the sums and ``std_errors`` for the formula.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

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

# Up to this many cells (groups x annotators^2 x categories), all groups are counted at once.
GROUPED_CELLS = 1 << 22
# Pairs of ratings (images x w x w) counted in one step of ``grouped_pair_counts``.
PAIR_BLOCK_CELLS = 1 << 21
# Up to this many cells ((annotators x categories)^2), the whole project's contingency
# tables are counted in the groups' pass (``pair_counts_with_groups``).
JOINT_CELLS = 1 << 22
# The two-sided 95% normal quantile, scipy.stats.norm.isf(0.025), as statsmodels uses it.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class SpreadSums:
    """The sums over each pair's contingency table that kappa's standard error needs (a x a).

    For columns i, j with N_cd images where i gave c and j gave d, r_c = sum_d N_cd and
    s_d = sum_c N_cd: ``diagonal`` is sum_c N_cc (r_c + s_c), ``margins`` is
    sum_c r_c s_c (r_c + s_c) and ``crossed`` is sum_cd N_cd s_c r_d. In float64: products
    of three counts can pass 2**53, and a standard error needs no more than its precision.
    """

    diagonal: Floats
    margins: Floats
    crossed: Floats


@dataclass(frozen=True)
class PairCounts:
    """The integer counts behind Cohen's kappa for every pair of columns (a x a each)."""

    shared: Counts
    agreeing: Counts
    chance: Counts
    spread: SpreadSums | None = None


@dataclass(frozen=True, eq=False)
class PairMatrix:
    """Cohen's kappa for every pair of annotators, indexed by codes column.

    ``kappa[i, j]`` is NaN on the diagonal and where undefined; ``n_items[i, j]`` counts the
    images both rated (on the diagonal: the images annotator i rated); ``agreement[i, j]``
    is the share of those images given the same category (NaN on the diagonal and where
    they share none). ``n_shared_items`` counts images rated by at least two annotators.
    ``std_error[i, j]`` is the kappa's large-sample standard error (see the module's
    docstring), NaN where the kappa is undefined, the pair shares fewer than two images, or
    it was not computed (the matrices of groups of images).
    """

    kappa: Floats
    n_items: Counts
    agreement: Floats
    n_shared_items: int
    std_error: Floats

    def figure(self, i: int, j: int) -> Figure:
        """Cohen's kappa between annotators i and j as a figure, with its 95% interval.

        The interval is kappa +- 1.96 standard errors clipped to [-1, 1], or None where
        the standard error is undefined (see ``std_error``).
        """
        n_items = int(self.n_items[i, j])
        if n_items == 0:
            return undefined(NO_SHARED_ITEMS, 0)
        kappa, error = self.kappa[i, j], self.std_error[i, j]
        if np.isnan(kappa):
            return undefined(ONE_SHARED_CATEGORY, n_items)
        figure = defined(kappa, n_items)
        if np.isnan(error):
            return figure
        low, high = (float(np.clip(kappa + side * Z_95 * error, -1.0, 1.0)) for side in (-1, 1))
        return replace(figure, ci_low=low, ci_high=high)

    def pairs(self) -> list[tuple[int, int, Figure]]:
        """Every pair i < j of annotator columns with its kappa figure."""
        size = self.kappa.shape[0]
        return [(i, j, self.figure(i, j)) for i in range(size) for j in range(i + 1, size)]


def cohen_kappa_matrix(codes: Codes, k: int) -> PairMatrix:
    """Cohen's kappa, shared images and raw agreement for every pair of annotators.

    A pair is compared on the images both rated; its kappa is undefined (NaN) when they
    share none, or when both used one and the same category on all of them. Each pair's
    figure carries its asymptotic 95% interval (see the module's docstring).
    """
    check_codes(codes, k)
    return pair_matrix(pair_counts(codes, k), rated_by_two(codes))


def cohen_kappa_matrices(codes: Codes, k: int, groups: Counts, n_groups: int) -> list[PairMatrix]:
    """``cohen_kappa_matrix`` of each group of images (row i is in group ``groups[i]``).

    A group of -1 leaves the image out. Small enough tables of counts for every group are
    filled in one pass over the pairs of ratings (see ``grouped_pair_counts``); otherwise
    each group's rows are counted in turn.
    """
    check_codes(codes, k)
    twice = (groups >= 0) & (np.count_nonzero(codes >= 0, axis=1) >= 2)
    shared_items = np.bincount(groups[twice], minlength=n_groups).tolist()
    counts = pair_counts_by_group(codes, k, groups, n_groups)
    return [pair_matrix(c, n) for c, n in zip(counts, shared_items, strict=True)]


def pair_counts_by_group(codes: Codes, k: int, groups: Counts, n_groups: int) -> list[PairCounts]:
    """``pair_counts`` of each group: in one pass while the tables are small, else in turn."""
    size = codes.shape[1]
    if n_groups * size * size * k <= GROUPED_CELLS:
        return grouped_pair_counts(codes, k, groups, n_groups)
    return [pair_counts(codes[groups == group], k, spread=False) for group in range(n_groups)]


def pair_matrix(counts: PairCounts, n_shared_items: int) -> PairMatrix:
    """The PairMatrix of pair counts; ``n_shared_items`` images were rated at least twice."""
    shared = counts.shared
    with np.errstate(divide="ignore", invalid="ignore"):
        agreement = np.where(shared > 0, counts.agreeing / shared, np.nan)
    np.fill_diagonal(agreement, np.nan)
    kappa = kappas(counts)
    return PairMatrix(
        kappa=kappa,
        n_items=shared,
        agreement=agreement,
        n_shared_items=n_shared_items,
        std_error=std_errors(counts, kappa),
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


def std_errors(counts: PairCounts, kappa: Floats) -> Floats:
    """The large-sample standard error of every pair's kappa (Fleiss, Cohen, Everitt 1969).

    With p_cd = N_cd / n, row and column shares p_c. = r_c / n and p_.d = s_d / n, and
    p_e the chance agreement, the variance is
    [sum_c p_cc (1 - (p_c. + p_.c)(1 - kappa))^2
     + (1 - kappa)^2 sum_{c != d} p_cd (p_.c + p_d.)^2 - (kappa - p_e (1 - kappa))^2]
    / (n (1 - p_e)^2). Expanding the squares, the first two terms are
    p_o - 2 (1 - kappa) diagonal / n^2 + (1 - kappa)^2 (margins + 2 crossed) / n^3 in the
    sums of ``SpreadSums``, so every pair's comes from a few (a x a) array operations.
    NaN where kappa is, where the pair shares fewer than two images (one image gives a
    variance of 0, not a meaningful one), and where the sums were not counted.
    """
    if counts.spread is None:
        return np.full(kappa.shape, np.nan)
    sums = counts.spread
    n = counts.shared.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = counts.chance / (n * n)
        rest = 1.0 - kappa
        terms = (
            counts.agreeing / n
            - 2.0 * rest * sums.diagonal / (n * n)
            + rest * rest * (sums.margins + 2.0 * sums.crossed) / (n * n * n)
            - (kappa - expected * rest) ** 2
        )
        # Rounding can leave a zero variance (perfect agreement) a hair below zero.
        variance = np.maximum(terms, 0.0) / (n * (1.0 - expected) ** 2)
    return np.where((n >= 2) & ~np.isnan(kappa), np.sqrt(variance), np.nan)


def pair_counts(codes: Codes, k: int, *, spread: bool = True) -> PairCounts:
    """Shared images, agreeing images and the chance term for every pair of columns.

    With ``spread`` also the sums behind kappa's standard error (``spread_sums``).
    """
    onehot = _onehot(codes, k)
    given = _given_where_other_rated(onehot, codes, k)
    return PairCounts(
        shared=given.sum(axis=1),
        agreeing=_agreeing(codes, k),
        chance=np.einsum("icj,jci->ij", given, given),
        spread=spread_sums(onehot, given) if spread else None,
    )


def spread_sums(onehot: sparse.csr_matrix, given: Counts) -> SpreadSums:
    """``SpreadSums`` of every pair of columns, from the (column, category) indicator.

    onehot.T @ onehot holds every pair's contingency table: entry (i k + c, j k + d) counts
    the images where column i gave c and column j gave d. It is sparse, with no more
    entries than there are pairs of ratings of one image, so the sums are weighted
    bincounts over its entries; r_c and s_d of pair (i, j) are given[i, c, j] and
    given[j, d, i].
    """
    size, k, _ = given.shape
    tables = (onehot.T @ onehot).tocoo()
    first, second = tables.row.astype(np.int64), tables.col.astype(np.int64)
    i, c, j, d = first // k, first % k, second // k, second % k
    table = tables.data.astype(np.float64)
    pair = i * size + j
    rows, columns = given.astype(np.float64), given.transpose(2, 1, 0).astype(np.float64)
    same = c == d
    per_pair = size * size
    diagonal = np.bincount(
        pair[same],
        weights=table[same] * (rows[i, c, j] + columns[i, c, j])[same],
        minlength=per_pair,
    )
    crossed = np.bincount(
        pair, weights=table * columns[i, c, j] * rows[i, d, j], minlength=per_pair
    )
    margins = np.einsum("icj,icj,icj->ij", rows, columns, rows + columns)
    # bincount's weighted sums are float64 already; astype tells the type checker so.
    return SpreadSums(
        diagonal=diagonal.astype(np.float64).reshape(size, size),
        margins=margins,
        crossed=crossed.astype(np.float64).reshape(size, size),
    )


def grouped_pair_counts(codes: Codes, k: int, groups: Counts, n_groups: int) -> list[PairCounts]:
    """``pair_counts`` of each group of images, from one pass over the pairs of ratings.

    Images with the same number w of ratings are taken together: their rated columns (in
    increasing order) and codes form (images, w) arrays, and each unordered pair of two of
    an image's ratings is counted once by bincount under keys that carry the image's
    group; the other order and the diagonal (a rating with itself) follow without pairs.
    """
    return _pair_tables(codes, k, groups, n_groups, joint=False).counts()


def pair_counts_with_groups(
    codes: Codes, k: int, groups: Counts, n_groups: int
) -> tuple[PairCounts, list[PairCounts]]:
    """``pair_counts(codes, k)`` over every image, with its spread sums, and
    ``pair_counts_by_group``: both from one pass over the pairs of ratings while their
    tables are small, else each counted on its own.

    The pass of ``grouped_pair_counts`` also counts every pair's contingency table (for
    columns i < j, the images where i gave c and j gave d) over all images, whatever their
    group; every count of the whole, spread sums included, follows from that table.
    """
    size = codes.shape[1]
    tables = (size * k) ** 2 <= JOINT_CELLS and (n_groups + 1) * size * size * k <= GROUPED_CELLS
    if not tables or size * k == 0:
        return pair_counts(codes, k), pair_counts_by_group(codes, k, groups, n_groups)
    # Images outside every group go to one more group, counted for the whole only.
    groups = np.where(groups >= 0, groups, n_groups)
    counted = _pair_tables(codes, k, groups, n_groups + 1, joint=True)
    return counted.joint_counts(), counted.counts()[:n_groups]


def _pair_tables(
    codes: Codes, k: int, groups: Counts, n_groups: int, *, joint: bool
) -> _PairTables:
    size = codes.shape[1]
    cells = np.flatnonzero(codes >= 0)  # every rating, row by row, columns in order
    row = cells // size
    width = np.bincount(row, minlength=codes.shape[0])
    in_group = groups[row] >= 0
    per_rating = width[row]
    tables = _PairTables(n_groups, size, k, joint=joint)
    for w in np.unique(per_rating[in_group]).tolist():
        chosen = cells[in_group & (per_rating == w)]
        step = max(1, PAIR_BLOCK_CELLS // (w * w)) * w  # whole images, bounded pairs
        for start in range(0, chosen.size, step):
            # (w, images) arrays: picking slots then takes whole contiguous rows.
            block = chosen[start : start + step]
            column = (block % size).reshape(-1, w).T.copy()
            code = codes.reshape(-1)[block].reshape(-1, w).T.astype(np.int64)
            first = groups[block[::w] // size] * size + column
            tables.add(first, column, code)
    return tables


class _PairTables:
    """Flat bincount tables of ``grouped_pair_counts``, keyed (group, i, j), (group, i, c, j).

    ``upper`` counts pairs of columns i < j, ``upper_same`` those that agree, ``given`` the
    (i gave c, j rated) pairs in both orders, ``alone`` each (group, i) rating. With
    ``joint``, ``joint`` counts the pairs of columns i < j by (i, c, j, d), all groups
    together.
    """

    def __init__(self, n_groups: int, size: int, k: int, *, joint: bool = False) -> None:
        self.n_groups, self.size, self.k = n_groups, size, k
        self.upper = np.zeros(n_groups * size * size, dtype=np.int64)
        self.upper_same = np.zeros_like(self.upper)
        self.given = np.zeros(n_groups * size * k * size, dtype=np.int64)
        self.alone = np.zeros(n_groups * size * k, dtype=np.int64)
        self.joint = np.zeros((size * k) ** 2, dtype=np.int64) if joint else None

    def add(self, first: Counts, column: Counts, code: Counts) -> None:
        """Count the pairs of ratings of each image (a column of these (w, images) arrays).

        ``first`` is group * size + annotator column.
        """
        left, right = np.triu_indices(column.shape[0], 1)
        pair = (first[left] * self.size + column[right]).ravel()
        same = (code[left] == code[right]).ravel()
        labelled = first * self.k + code
        forward = labelled[left] * self.size + column[right]
        backward = labelled[right] * self.size + column[left]
        self.upper += np.bincount(pair, minlength=self.upper.size)
        self.upper_same += np.bincount(pair[same], minlength=self.upper.size)
        self.given += np.bincount(forward.ravel(), minlength=self.given.size)
        self.given += np.bincount(backward.ravel(), minlength=self.given.size)
        self.alone += np.bincount(labelled.ravel(), minlength=self.alone.size)
        if self.joint is not None:
            rating = column * self.k + code
            key = rating[left] * (self.size * self.k) + rating[right]
            self.joint += np.bincount(key.ravel(), minlength=self.joint.size)

    def counts(self) -> list[PairCounts]:
        g, a, k = self.n_groups, self.size, self.k
        alone = self.alone.reshape(g, a, k)
        given = self.given.reshape(g, a, k, a)
        columns = np.arange(a)
        given[:, columns, :, columns] += alone.transpose(1, 0, 2)
        rated = alone.sum(axis=2)
        upper, same = self.upper.reshape(g, a, a), self.upper_same.reshape(g, a, a)
        shared = upper + upper.transpose(0, 2, 1)
        agreeing = same + same.transpose(0, 2, 1)
        shared[:, columns, columns] = rated
        agreeing[:, columns, columns] = rated
        chance = np.einsum("gicj,gjci->gij", given, given)
        return [PairCounts(shared[i], agreeing[i], chance[i]) for i in range(g)]

    def joint_counts(self) -> PairCounts:
        """``pair_counts`` of every image counted, from the contingency tables."""
        assert self.joint is not None
        a, k = self.size, self.k
        upper = self.joint.reshape(a * k, a * k)
        table = upper + upper.T
        # A rating with itself: column i gave c where column i gave c.
        table[np.diag_indices(a * k)] += self.alone.reshape(-1, a * k).sum(axis=0)
        return table_counts(table.reshape(a, k, a, k))


def table_counts(table: Counts) -> PairCounts:
    """``PairCounts``, spread sums included, of every pair's contingency table: an
    (a, k, a, k) array whose [i, c, j, d] counts the images where column i gave c and
    column j gave d (on the diagonal, [i, c, i, c] counts column i's ratings of c)."""
    given = table.sum(axis=3)
    rows, columns = given.astype(np.float64), given.transpose(2, 1, 0).astype(np.float64)
    agreeing = np.einsum("icjc->ij", table)
    counted = table.astype(np.float64)
    spread = SpreadSums(
        diagonal=np.einsum("icjc,icj->ij", counted, rows + columns),
        margins=np.einsum("icj,icj,icj->ij", rows, columns, rows + columns),
        crossed=np.einsum("icjd,icj,idj->ij", counted, columns, rows),
    )
    return PairCounts(
        shared=given.sum(axis=1),
        agreeing=agreeing,
        chance=np.einsum("icj,jci->ij", given, given),
        spread=spread,
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


def _onehot(codes: Codes, k: int) -> sparse.csr_matrix:
    """The sparse (n_items, a * k) indicator of (column, category) per image."""
    n_items, size = codes.shape
    rated = codes >= 0
    columns = (np.arange(size, dtype=np.int64) * k + codes)[rated]
    starts = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(rated, axis=1), out=starts[1:])
    # Sums of ones are exact integers below 2**24 in float32 (half the memory to read) and
    # below 2**53 in float64; no count exceeds the number of images.
    data = np.ones(columns.size, dtype=_exact(n_items))
    return sparse.csr_matrix((data, columns, starts), shape=(n_items, size * k))


def _exact(n_items: int) -> type[np.floating[Any]]:
    return np.float32 if n_items < 2**24 else np.float64


def _given_where_other_rated(onehot: sparse.csr_matrix, codes: Codes, k: int) -> Counts:
    """An (a, k, a) array: [i, c, j] counts images where column i gave c and column j rated.

    It is onehot.T @ rated, with onehot the (column, category) indicator of ``_onehot``:
    the work grows with the number of ratings times a, not with k.
    """
    n_items, size = codes.shape
    rated = (codes >= 0).astype(_exact(n_items))
    given = np.asarray(onehot.T @ rated)
    return np.rint(given).astype(np.int64).reshape(size, k, size)
