"""Fleiss' kappa of any subset of the images, with a standard error, for many subsets cheaply.

A report that compares slices of a project (one camera's photos, one annotator's images)
with the rest needs each subset's kappa and how sure it is, for dozens of subsets. A
bootstrap per subset and per complement would cost a pass over the ratings per draw; the
standard error here comes from linearising the estimator instead (the delta method, or
infinitesimal jackknife): kappa is a smooth function of a few means over images, so its
variance is that of the sum of each image's influence on it.

With image i's ratings n_ij per category, m_i = sum_j n_ij and agreement
P_i = sum_j n_ij (n_ij - 1) / (m_i (m_i - 1)), over the N pairable images of a subset:
P = mean P_i, p_j = sum_i n_ij / M with M = sum_i m_i, P_e = sum_j p_j^2 and
kappa = (P - P_e) / (1 - P_e), as ``multi_rater.fleiss_kappa``. Image i's influence is

    u_i = [(P_i - P) / N - 2 (1 - kappa) (b_i - P_e m_i) / M] / (1 - P_e),  b_i = sum_j p_j n_ij,

and the variance is N / (N - 1) sum_i u_i^2. Where rows are not independent (the labels of
one image in a multi-label project, each a yes/no row) the influences are summed per
``cluster`` first, so the error counts images, not rows. The tests check the error against
a bootstrap's spread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from labeler.agreement.metrics.counts import Codes, Counts, Floats, category_counts, check_codes
from labeler.agreement.metrics.figures import (
    NO_PAIRS,
    ONE_CATEGORY_KAPPA,
    Figure,
    defined,
    undefined,
)
from labeler.agreement.metrics.pairwise import Z_95

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FleissTerms:
    """What every subset's kappa is computed from: each pairable row's counts and agreement.

    ``rows`` holds the codes row of each pairable row (rated at least twice), ``clusters``
    the unit each belongs to (None: each row is its own).
    """

    rows: Counts
    counts: Floats  # (pairable rows, k)
    by_category: Floats  # the same counts as (k, pairable rows), summed fast over a subset
    raters: Floats
    agreement: Floats
    clusters: Counts | None
    n_rows: int


@dataclass(frozen=True)
class KappaEstimate:
    """Fleiss' kappa of a subset as a figure (with its 95% interval) and its standard error.

    ``figure.n_items`` counts the subset's pairable clusters (images); the interval is
    kappa +- 1.96 standard errors clipped to [-1, 1], absent when the error is undefined
    (fewer than two images).
    """

    figure: Figure
    std_error: float | None


def fleiss_terms(codes: Codes, k: int, clusters: Counts | None = None) -> FleissTerms:
    """The terms of the rows of ``codes`` rated at least twice.

    ``clusters`` (one per row, 0 or more) groups rows that are not independent; by default
    each row is its own cluster.
    """
    check_codes(codes, k)
    if clusters is not None and clusters.shape != (codes.shape[0],):
        raise ValueError("clusters must hold one entry per row of codes.")
    counts = category_counts(codes, k)
    raters = counts.sum(axis=1)
    rows = np.flatnonzero(raters >= 2)
    table = counts[rows].astype(np.float64)
    m = raters[rows].astype(np.float64)
    agreement = (np.einsum("ij,ij->i", table, table) - m) / (m * (m - 1.0))
    return FleissTerms(
        rows=rows,
        counts=table,
        by_category=np.ascontiguousarray(table.T),
        raters=m,
        agreement=agreement,
        clusters=None if clusters is None else _dense(clusters[rows]),
        n_rows=codes.shape[0],
    )


def fleiss_terms_stacked(matrices: list[Codes], k: int) -> FleissTerms:
    """The terms of several codes matrices over the same images, one under the other.

    A multi-label project's yes/no matrices (``binary_matrices``, k = 2) pooled: row
    ``l * n + i`` is image i's decision on label l, and its cluster is the image, so a
    subset is chosen by its images' mask repeated once per matrix
    (``np.tile(mask, len(matrices))``). Each matrix is counted on its own, so memory stays
    that of one.
    """
    if not matrices:
        raise ValueError("matrices must hold at least one codes matrix.")
    n = matrices[0].shape[0]
    parts = [fleiss_terms(codes, k) for codes in matrices]
    if any(part.n_rows != n for part in parts):
        raise ValueError("every matrix must have the same number of rows (images).")
    rows = np.concatenate([part.rows + index * n for index, part in enumerate(parts)])
    counts = np.concatenate([part.counts for part in parts])
    return FleissTerms(
        rows=rows,
        counts=counts,
        by_category=np.ascontiguousarray(counts.T),
        raters=np.concatenate([part.raters for part in parts]),
        agreement=np.concatenate([part.agreement for part in parts]),
        clusters=rows % n if n else rows,
        n_rows=n * len(matrices),
    )


def fleiss_kappa_within(terms: FleissTerms, chosen: Mask) -> KappaEstimate:
    """Fleiss' kappa of the rows ``chosen`` (a mask over the codes' rows) and its error.

    Sums over the subset are products with its 0/1 weights (no copy of the counts), so
    each subset costs a few passes over the pairable rows. They go through einsum's own
    loops, not BLAS: a web process's BLAS threads, on cores busy with other requests, made
    these small products twenty times slower.
    """
    if chosen.shape != (terms.n_rows,):
        raise ValueError("chosen must hold one entry per row of codes.")
    weights = chosen[terms.rows].astype(np.float64)
    n_rows = float(weights.sum())
    if n_rows == 0:
        return KappaEstimate(undefined(NO_PAIRS, 0), None)
    units, n_units = _units(terms, weights)
    totals = np.einsum("ki,i->k", terms.by_category, weights)
    if np.count_nonzero(totals) < 2:
        return KappaEstimate(undefined(ONE_CATEGORY_KAPPA, n_units), None)
    total = float(totals.sum())
    shares = totals / total
    chance = float(shares @ shares)
    observed = float(np.einsum("i,i->", weights, terms.agreement)) / n_rows
    kappa = (observed - chance) / (1.0 - chance)
    leaning = np.einsum("ik,k->i", terms.counts, shares) - chance * terms.raters
    influence = weights * (
        ((terms.agreement - observed) / n_rows - 2.0 * (1.0 - kappa) * leaning / total)
        / (1.0 - chance)
    )
    per_unit = influence if units is None else np.bincount(units, weights=influence)
    figure = defined(kappa, n_units)
    if n_units < 2:
        return KappaEstimate(figure, None)
    error = float(
        np.sqrt(n_units / (n_units - 1.0) * float(np.einsum("i,i->", per_unit, per_unit)))
    )
    low, high = (float(np.clip(kappa + side * Z_95 * error, -1.0, 1.0)) for side in (-1, 1))
    return KappaEstimate(replace(figure, ci_low=low, ci_high=high), error)


def _units(terms: FleissTerms, weights: Floats) -> tuple[Counts | None, int]:
    """Each pairable row's unit (None: rows are their own) and the subset's number of units."""
    if terms.clusters is None:
        return None, int(np.count_nonzero(weights))
    return terms.clusters, int(np.unique(terms.clusters[weights > 0]).size)


def _dense(clusters: Counts) -> Counts:
    """Cluster ids numbered 0.. in order, so that a bincount over them stays small."""
    return np.unique(clusters, return_inverse=True)[1].astype(np.int64).reshape(-1)
