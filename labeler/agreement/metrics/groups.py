"""The pooled sums behind Fleiss' kappa, alpha and raw agreement, for many groups at once.

Those figures are ratios of sums over images (see ``tallies``), so the figures of any number
of groups of images (the weeks of a project, the draws of a bootstrap) come from one sparse
product: a (groups x images) weight matrix, holding how often each image counts in each
group, times each image's terms. No group costs a pass over the ratings of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy import sparse

from labeler.agreement.metrics.counts import Codes, Counts, Floats, category_counts, sparse_counts
from labeler.agreement.metrics.tallies import DENSE_UP_TO, Tallies


@dataclass(frozen=True)
class GroupSums:
    """For each group (leading axis), the sums of ``Tallies`` that the pooled figures use.

    ``n_items`` counts the group's pairable images, each as often as its weight; the rest
    are as in ``Tallies``. Sums of integers are exact in float64 (far below 2**53).
    """

    n_items: Floats
    agreement: Floats
    matching: Floats
    agreeing_pairs: Floats
    all_pairs: Floats
    totals: Floats  # (groups, k)

    @classmethod
    def of(cls, sums: Tallies) -> GroupSums:
        """One group: the tallies of a whole codes matrix."""
        return cls(
            n_items=np.array([sums.n_items], dtype=np.float64),
            agreement=np.array([sums.agreement]),
            matching=np.array([sums.matching]),
            agreeing_pairs=np.array([sums.agreeing_pairs], dtype=np.float64),
            all_pairs=np.array([sums.all_pairs], dtype=np.float64),
            totals=sums.totals[np.newaxis, :].astype(np.float64),
        )


@dataclass(frozen=True)
class Terms:
    """The distinct terms of the pairable images and which one each image (row) has.

    Images with the same category counts have the same terms, and with few categories
    and raters there are few distinct counts (at most 2002 for 5 raters and 10
    categories), so weights over them fit a small dense matrix: the cost of a group is
    then a bincount over its images, whatever the number of groups.
    """

    index: Counts  # per row of codes: its terms' row, -1 when not pairable
    scalars: Floats  # (u, 5): 1, a/(m(m-1)), a/(m-1), a, m(m-1)
    counts: Floats | sparse.csr_array  # (u, k)


# Beyond this many (groups x distinct terms) cells, weights go into a sparse matrix.
DENSE_WEIGHTS_UP_TO = 1 << 22


def group_sums(
    codes: Codes, k: int, groups: Counts, n_groups: int, terms: Terms | None = None
) -> GroupSums:
    """The sums of each group of images: image (row) i belongs to group ``groups[i]``.

    A group of -1 leaves the image out; groups without a pairable image sum to zero.
    ``terms``, where given, are ``terms_of(codes, k)`` made already.
    """
    rows = np.flatnonzero(groups >= 0)
    order = rows[np.argsort(groups[rows], kind="stable")]
    sizes = np.bincount(groups[order], minlength=n_groups)
    return _weighted(terms if terms is not None else terms_of(codes, k), order, sizes)


def draw_sums(codes: Codes, k: int, draws: Counts, terms: Terms | None = None) -> GroupSums:
    """The sums of each draw (a row of ``draws``: rows of codes, repeats allowed);
    ``terms``, where given, are ``terms_of(codes, k)`` made already."""
    n_draws, draw_size = draws.shape
    terms = terms if terms is not None else terms_of(codes, k)
    return _weighted(terms, draws.ravel(), np.full(n_draws, draw_size))


def _weighted(terms: Terms, picks: Counts, sizes: Counts) -> GroupSums:
    """Sums over ``picks`` (rows of codes, group after group, ``sizes`` of each)."""
    n_groups, n_terms = sizes.size, terms.scalars.shape[0]
    found = terms.index[picks]
    kept = found >= 0
    group_of_pick = np.repeat(np.arange(n_groups), sizes)[kept]
    found = found[kept]
    if n_groups * n_terms <= DENSE_WEIGHTS_UP_TO:
        cells = np.bincount(group_of_pick * n_terms + found, minlength=n_groups * n_terms)
        weights: Floats | sparse.csr_array = cells.reshape(n_groups, n_terms).astype(np.float64)
    else:
        # Picks come group after group: CSR without sorting; a repeated column is added.
        indptr = np.zeros(n_groups + 1, dtype=np.int64)
        np.cumsum(np.bincount(group_of_pick, minlength=n_groups), out=indptr[1:])
        weights = sparse.csr_array((np.ones(found.size), found, indptr), shape=(n_groups, n_terms))
    scalars = weights @ terms.scalars
    totals = weights @ terms.counts
    if sparse.issparse(totals):
        totals = cast(sparse.csr_array, totals).toarray()
    return GroupSums(
        n_items=scalars[:, 0],
        agreement=scalars[:, 1],
        matching=scalars[:, 2],
        agreeing_pairs=scalars[:, 3],
        all_pairs=scalars[:, 4],
        totals=np.asarray(totals, dtype=np.float64),
    )


def terms_of(codes: Codes, k: int, counts: Counts | None = None) -> Terms:
    """The distinct terms of the images rated at least twice, which ``group_sums`` and
    ``draw_sums`` weigh; ``counts``, where given, is ``category_counts(codes, k)``."""
    if k > DENSE_UP_TO:
        return _sparse_terms(codes, k)
    if counts is None:
        counts = category_counts(codes, k)
    raters = counts.sum(axis=1)
    rows = np.flatnonzero(raters >= 2)
    distinct, inverse = _distinct_rows(counts[rows])
    index = np.full(codes.shape[0], -1, dtype=np.int64)
    index[rows] = inverse
    table = distinct.astype(np.float64)
    m = table.sum(axis=1)
    same = np.einsum("ij,ij->i", table, table) - m
    return Terms(index=index, scalars=_scalars(same, m), counts=table)


def _distinct_rows(counts: Counts) -> tuple[Counts, Counts]:
    """The distinct rows of ``counts`` and each row's index among them."""
    base = int(counts.max(initial=0)) + 1
    if counts.shape[1] * np.log2(base) < 62:
        # Each row as one integer in base ``base``: np.unique on 1-D keys is much faster.
        keys = counts @ (base ** np.arange(counts.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return counts[first], inverse.reshape(-1)
    distinct, inverse = np.unique(counts, axis=0, return_inverse=True)
    return distinct, inverse.reshape(-1)


def _sparse_terms(codes: Codes, k: int) -> Terms:
    """Each pairable image's own terms from its nonzero counts, for many categories."""
    found = sparse_counts(codes)
    rows = np.flatnonzero(found.raters >= 2)
    pairable = found.raters[found.items] >= 2
    items, categories = found.items[pairable], found.categories[pairable]
    n = found.counts[pairable].astype(np.float64)
    position = np.searchsorted(rows, items)
    m = found.raters[rows].astype(np.float64)
    same = np.bincount(position, weights=n * (n - 1), minlength=rows.size).astype(np.float64)
    index = np.full(codes.shape[0], -1, dtype=np.int64)
    index[rows] = np.arange(rows.size)
    counts = sparse.csr_array((n, (position, categories)), shape=(rows.size, k))
    return Terms(index=index, scalars=_scalars(same, m), counts=counts)


def _scalars(same: Floats, m: Floats) -> Floats:
    pairs = m * (m - 1)
    return np.column_stack([np.ones_like(m), same / pairs, same / (m - 1), same, pairs])
