"""Consensus labels from several annotators' ratings: majority vote and Dawid-Skene.

Pure functions over arrays, vectorised over items (no database, no per-item loops).
Single-label ratings come as ``codes``, an ``(n_items, n_annotators)`` integer array
holding the category index (``0..k-1``) each annotator gave each item, or -1 where
the annotator did not rate the item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from labeler.agreement.metrics.counts import TIED, category_counts

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAJORITY = "majority"
DAWID_SKENE = "dawid_skene"
NOT_RATED = -1


@dataclass(frozen=True, eq=False)
class Consensus:
    """One consensus decision per item.

    ``labels`` is -1 where there is no decision, ``confidence`` is nan where the item
    has no ratings, ``needs_review`` marks items a person should decide.
    """

    labels: IntArray
    confidence: FloatArray
    needs_review: BoolArray
    method: str


@dataclass(frozen=True, eq=False)
class DawidSkeneResult(Consensus):
    """A Dawid-Skene consensus with the model it estimated.

    ``posteriors[i, c]`` is P(true class c | ratings of item i) (nan rows for unrated
    items), ``confusion[a, c, l]`` the estimated P(annotator a gives l | true class c),
    ``priors[c]`` the estimated class frequencies, ``iterations`` the EM rounds run.
    """

    posteriors: FloatArray
    confusion: FloatArray
    priors: FloatArray
    iterations: int


@dataclass(frozen=True, eq=False)
class MultiLabelConsensus:
    """Per-label decisions for multi-label items.

    ``labels[i, l]`` is 1 (label applies), 0 (does not) or -1 (tie, or item unrated);
    ``confidence`` is the mean winning share over labels (nan for unrated items);
    ``needs_review`` marks items with a tie on any label.
    """

    labels: npt.NDArray[np.int8]
    confidence: FloatArray
    needs_review: BoolArray


def majority_vote(codes: npt.ArrayLike, k: int) -> Consensus:
    """The most frequent category of each item; ties go to review.

    Confidence is the winning category's share of the item's votes (for a tie, the
    share of each tied category). A tie for first place gives label -1 and
    ``needs_review`` True; an item nobody rated gets label -1, confidence nan and
    ``needs_review`` False.
    """
    counts = vote_counts(codes, k)
    totals = counts.sum(axis=1)
    top = counts.max(axis=1, initial=0)
    rated = totals > 0
    tied = rated & ((counts == top[:, None]).sum(axis=1) > 1)
    winners = counts.argmax(axis=1) if k else np.zeros(len(counts), dtype=np.int64)
    return Consensus(
        labels=np.where(rated & ~tied, winners, NOT_RATED).astype(np.int64),
        confidence=_share(top, totals),
        needs_review=tied,
        method=MAJORITY,
    )


def vote_counts(codes: npt.ArrayLike, k: int) -> IntArray:
    """``counts[i, c]``: how many annotators gave item ``i`` category ``c``."""
    # One bincount over every cell, the unrated ones in a bin of their own (the tallies'
    # count, without a pass to move them first).
    return category_counts(_checked_codes(codes, k), k)


def dawid_skene(
    codes: npt.ArrayLike,
    k: int,
    *,
    max_iter: int = 50,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> DawidSkeneResult:
    """Consensus by the EM algorithm of Dawid and Skene (1979).

    A. P. Dawid and A. M. Skene, "Maximum Likelihood Estimation of Observer Error-Rates
    Using the EM Algorithm", Applied Statistics 28(1):20-28, 1979. Each annotator has a
    confusion matrix P(given label | true class); EM alternates estimating those and the
    class priors from soft labels (M-step) with the posterior of each item's true class
    (E-step), starting from majority-vote soft counts. ``smoothing`` is added to every
    count (additive smoothing) so unseen cells never give log(0); an annotator
    who rated nothing keeps uniform rows. Work is in log space. Stops when the relative
    change of the log-likelihood is at most ``tol``, or after ``max_iter`` rounds.

    Labels are the argmax posterior, confidence the max posterior; ``needs_review`` is
    False throughout. Items nobody rated get label -1, confidence nan, nan posteriors,
    and do not affect the estimates.
    """
    _check_em_settings(max_iter, tol, smoothing)
    checked = _checked_codes(codes, k)
    n_items, n_annotators = checked.shape
    rated, soft, indicators = _ratings_of(checked, k)
    used = np.bincount(indicators.indices, minlength=indicators.shape[1])  # ratings a column
    priors, confusion = _m_step(soft, indicators, n_annotators, k, smoothing)
    if not rated.any():
        return _ds_result(np.full((n_items, k), np.nan), confusion, priors, rated, 0)
    log_lik, iterations = -np.inf, 0
    while True:
        soft, new_log_lik = _e_step(priors, confusion, indicators, used, rated)
        iterations += 1
        if iterations == max_iter or abs(new_log_lik - log_lik) <= tol * abs(new_log_lik):
            break
        log_lik = new_log_lik
        priors, confusion = _m_step(soft, indicators, n_annotators, k, smoothing)
    soft[~rated] = np.nan
    return _ds_result(soft, confusion, priors, rated, iterations)


def consensus(codes: npt.ArrayLike, k: int, method: str) -> Consensus:
    """The consensus of ``codes`` by ``method``: "majority" or "dawid_skene"."""
    try:
        compute = _METHODS[method]
    except KeyError:
        choices = ", ".join(repr(name) for name in _METHODS)
        raise ValueError(f"Unknown consensus method {method!r}; choose one of {choices}.") from None
    return compute(codes, k)


def consensus_reference(codes: npt.ArrayLike, k: int, method: str) -> IntArray:
    """Each item's consensus label by ``method`` as the agreement figures compare with it:
    -1 where nobody rated it, ``TIED`` where its raters tied (majority vote), so an
    annotator's rating of a tied item counts as not agreeing rather than not at all."""
    found = consensus(codes, k, method)
    return np.where(found.needs_review & (found.labels < 0), TIED, found.labels)


def multi_label_majority(label_sets: npt.ArrayLike) -> MultiLabelConsensus:
    """Each label of each item decided by majority of the annotators who rated the item.

    ``label_sets[i, a, l]`` is 1 when annotator ``a`` gave item ``i`` label ``l``, 0 when
    they rated the item without it, and the whole row is -1 when they did not rate it.
    A tie on a label gives -1 for that label and puts the item up for review.
    Confidence is the mean over labels of the winning share (0.5 for a tied label).
    """
    checked = _checked_label_sets(label_sets)
    # Rows are whole, so the first label tells whether the annotator rated the item.
    rated: BoolArray = np.any(checked[:, :, :1] >= 0, axis=2)
    raters = rated.sum(axis=1)
    yes = (checked == 1).sum(axis=1)
    no = raters[:, None] - yes
    decided = np.where(yes > no, 1, np.where(no > yes, 0, NOT_RATED)).astype(np.int8)
    has_raters = raters > 0
    shares = _share(np.maximum(yes, no), np.broadcast_to(raters[:, None], yes.shape))
    mean_share = shares.mean(axis=1) if shares.shape[1] else np.full(len(raters), np.nan)
    return MultiLabelConsensus(
        labels=decided,
        confidence=mean_share,
        needs_review=has_raters & (yes == no).any(axis=1),
    )


def _dawid_skene_defaults(codes: npt.ArrayLike, k: int) -> Consensus:
    return dawid_skene(codes, k)


_METHODS: dict[str, Callable[[npt.ArrayLike, int], Consensus]] = {
    MAJORITY: majority_vote,
    DAWID_SKENE: _dawid_skene_defaults,
}


# The smallest sum of an item's shifted likelihoods taken as is (see ``_e_step``): below
# it the item is worked out again with its own largest term taken out.
_TINY_EVIDENCE = 1e-250


def _ratings_of(codes: IntArray, k: int) -> tuple[BoolArray, FloatArray, sparse.csr_array]:
    """Which items were rated, their vote shares (majority-vote soft counts; zero rows
    for unrated items), and the sparse 0/1 matrix of their ratings.

    The matrix has a row per item and two columns per (annotator, category) pair: an
    item's first rating takes its pair's column in the second half, the rest their
    pair's column in the first half. A product with it then adds each item's class
    priors once, with its first rating's likelihoods (``_e_step``), and the second half
    holds each item once, its soft label summing to the class mass (``_m_step``).
    """
    n_items, n_annotators = codes.shape
    pairs = n_annotators * k
    # The rated cells in row order, so already CSR order. A bincount of their rows counts
    # each row's: a boolean sum along rows of 20 cells costs several times more.
    cells = np.flatnonzero(codes >= 0)
    rows = cells // n_annotators if n_annotators else cells
    given = codes.reshape(-1)[cells]
    per_row = np.bincount(rows, minlength=n_items)
    rated = per_row > 0
    votes = np.bincount(rows * k + given, minlength=n_items * k).reshape(n_items, k)
    soft = votes / np.maximum(per_row, 1).reshape(-1, 1)
    index = np.int32 if max(len(cells), 2 * pairs) < np.iinfo(np.int32).max else np.int64
    columns = ((cells - rows * n_annotators) * k + given).astype(index)
    row_starts = np.zeros(n_items + 1, dtype=index)
    np.cumsum(per_row, out=row_starts[1:])
    columns[row_starts[:-1][rated]] += pairs
    values = np.ones(len(columns), dtype=np.float64)
    indicators = sparse.csr_array((values, columns, row_starts), shape=(n_items, 2 * pairs))
    return rated, soft, indicators


def _m_step(
    soft: FloatArray,
    indicators: sparse.csr_array,
    n_annotators: int,
    k: int,
    smoothing: float,
) -> tuple[FloatArray, FloatArray]:
    """Smoothed class priors and confusion matrices from soft labels (zero rows count not)."""
    pairs = n_annotators * k
    # (k, n) @ (n, 2*annotators*k): mass[c, a*k + l] (in either half) = soft mass of class
    # c labelled l by a; the second half holds every rated item once.
    mass = np.asarray(soft.T @ indicators)
    firsts = mass[:, pairs:]
    class_mass = firsts.sum(axis=1) + smoothing
    priors = class_mass / class_mass.sum()
    counts = (mass[:, :pairs] + firsts).reshape(k, n_annotators, k).transpose(1, 0, 2)
    counts = counts + smoothing
    confusion = counts / counts.sum(axis=2, keepdims=True)
    return priors, confusion


def _e_step(
    priors: FloatArray,
    confusion: FloatArray,
    indicators: sparse.csr_array,
    used: IntArray,
    rated: BoolArray,
) -> tuple[FloatArray, float]:
    """Posteriors of the true classes (zero rows for unrated items) and the log-likelihood.

    Each rating's log-likelihoods (and the priors, with an item's first rating) are
    shifted by their largest before the product, so every item's sum is at most 0 and
    its exponent cannot overflow: no pass over the items to find and take out their
    largest. The shifts come back in the log-likelihood, counted per column. An item
    whose sum is so small it would lose precision (dozens of ratings that all disagree)
    is worked out again with its own largest taken out.
    """
    n_annotators, k, _ = confusion.shape
    # log_given[a*k + l, c] = log P(annotator a gives l | true class c).
    log_given = np.log(confusion).transpose(0, 2, 1).reshape(n_annotators * k, k)
    table = np.concatenate([log_given, log_given + np.log(priors)])
    shifts = table.max(axis=1)
    table -= shifts.reshape(-1, 1)
    # In place from here on: at scale these (items x k) passes cost as much as the products.
    shifted = np.asarray(indicators @ table)
    posteriors = np.exp(shifted, out=shifted)
    # A product with ones (BLAS) sums the rows of k columns three times faster than sum().
    evidence = posteriors @ np.ones(k)
    low = np.flatnonzero(rated & (evidence < _TINY_EVIDENCE))
    exact = np.asarray(indicators[low] @ table)
    peak = exact.max(axis=1, initial=-np.inf)
    again = np.exp(exact - peak.reshape(-1, 1))
    posteriors[low] = again
    evidence[low] = again.sum(axis=1)
    log_evidence = np.log(evidence, where=rated, out=np.zeros_like(evidence))
    log_evidence[low] += peak
    posteriors /= evidence.reshape(-1, 1)
    log_lik = float(np.sum(log_evidence)) + float(used @ shifts)
    if not rated.all():
        posteriors[~rated] = 0.0
    return posteriors, log_lik


def _ds_result(
    posteriors: FloatArray,
    confusion: FloatArray,
    priors: FloatArray,
    rated: BoolArray,
    iterations: int,
) -> DawidSkeneResult:
    winners = posteriors.argmax(axis=1) if rated.any() else np.zeros(len(rated), np.int64)
    return DawidSkeneResult(
        labels=np.where(rated, winners, NOT_RATED).astype(np.int64),
        confidence=np.where(rated, posteriors.max(axis=1, initial=0.0), np.nan),
        needs_review=np.zeros(len(rated), dtype=np.bool_),
        method=DAWID_SKENE,
        posteriors=posteriors,
        confusion=confusion,
        priors=priors,
        iterations=iterations,
    )


def _share(part: npt.NDArray[np.integer], whole: npt.NDArray[np.integer]) -> FloatArray:
    """``part / whole`` as floats, nan where ``whole`` is zero."""
    safe = np.maximum(whole, 1)
    return np.where(whole > 0, part / safe, np.nan).astype(np.float64)


def _checked_codes(codes: npt.ArrayLike, k: int) -> IntArray:
    """``codes`` as int64, after checking its shape and that values lie in -1..k-1."""
    array = np.asarray(codes)
    if k < 0:
        raise ValueError(f"k must be a number of categories (0 or more), not {k}.")
    if array.ndim != 2:
        raise ValueError(f"codes must be 2-D (items x annotators), not {array.ndim}-D.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"codes must be integers, not {array.dtype}.")
    if array.size and (array.min() < NOT_RATED or array.max() >= k):
        raise ValueError(f"codes must lie in -1..{k - 1} (-1 = not rated).")
    return array.astype(np.int64, copy=False)


def _checked_label_sets(label_sets: npt.ArrayLike) -> npt.NDArray[np.integer]:
    """``label_sets`` as given, after checking it holds whole 0/1 rows or -1 rows."""
    array = np.asarray(label_sets)
    if array.ndim != 3:
        raise ValueError(
            f"label_sets must be 3-D (items x annotators x labels), not {array.ndim}-D."
        )
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"label_sets must be integers, not {array.dtype}.")
    if array.size and (array.min() < NOT_RATED or array.max() > 1):
        raise ValueError("label_sets must hold 0, 1, or -1 (not rated).")
    missing = array < 0
    if not (missing == missing[:, :, :1]).all():
        raise ValueError("A not-rated row of label_sets must be -1 for every label.")
    return array


def _check_em_settings(max_iter: int, tol: float, smoothing: float) -> None:
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, not {max_iter}.")
    if not tol >= 0:
        raise ValueError(f"tol must be 0 or more, not {tol}.")
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive (it keeps log(0) away), not {smoothing}.")
