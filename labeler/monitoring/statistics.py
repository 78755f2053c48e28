"""The drift check's statistics: do recent inputs look like the test images? (Pure.)

Three two-sample tests, each of one question, combined by Holm's correction so that the
chance of any alarm when nothing changed is at most the stated false-alarm rate:

- **embeddings**: the maximum mean discrepancy (MMD) between the penultimate-layer
  embeddings, RBF kernels of bandwidths around the median heuristic's (the median distance
  between all points of both samples together), p-value by permutation with a fixed
  seed. One
  test over the whole vector sees a change in how dimensions move together, which
  per-dimension tests with a correction for hundreds of dimensions miss or dilute.
- **confidence**: the two-sample Kolmogorov-Smirnov test on the top probability.
- **labels**: the chi-square test of the predicted-label mix (a 2 x k table), labels too
  rare for the approximation pooled first.

Both samples are cut to ``cap`` points each (a seeded draw) so that a check costs the same
at any traffic: the kernel matrix of 2 x ``cap`` points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Each side is cut to this many points before the tests (a seeded draw).
DEFAULT_CAP = 500
# Permutations of the MMD test: its smallest p-value is 1 / (permutations + 1).
DEFAULT_PERMUTATIONS = 1000
# A label is pooled with the other rare ones below this many expected in either sample.
MIN_EXPECTED = 5.0
# The RBF kernels' bandwidths, as multiples of the median heuristic's.
BANDWIDTH_FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0)
# The permutations are drawn in blocks of this many (one matrix product each).
_BLOCK = 250


@dataclass(frozen=True)
class TestResult:
    """One test: its name, statistic, p-value and the points compared on each side."""

    __test__ = False  # a value, not a test class

    name: str
    statistic: float
    p_value: float
    n_recent: int
    n_reference: int


@dataclass(frozen=True)
class Sample:
    """One side of the comparison: embeddings (n, d), top probabilities (n,), top labels (n,)."""

    embeddings: np.ndarray
    confidences: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Verdict:
    """The three tests, which of them Holm's correction rejects at ``rate``, and the alarm."""

    tests: list[TestResult]
    rejected: list[bool]
    rate: float

    @property
    def alarm(self) -> bool:
        return any(self.rejected)


def subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Row indexes of at most ``cap`` of ``n`` rows, drawn without replacement (all if fewer)."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _squared_distances(points: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", points, points)
    squared = norms[:, None] + norms[None, :] - 2.0 * points @ points.T
    return np.maximum(squared, 0.0)


def median_bandwidth(squared: np.ndarray) -> float:
    """The median heuristic: the median distance between distinct points (1.0 if all coincide)."""
    upper = squared[np.triu_indices_from(squared, k=1)]
    positive = upper[upper > 0]
    return float(np.sqrt(np.median(positive))) if positive.size else 1.0


def mmd_test(
    recent: np.ndarray,
    reference: np.ndarray,
    *,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> TestResult:
    """The MMD between two samples of vectors over RBF kernels of several bandwidths, and its
    permutation p-value.

    The bandwidths are the median heuristic's (the median distance between all points of
    both samples) times ``BANDWIDTH_FACTORS``: the median alone sees a change of the
    clusters' mix but is blind to a change within each cluster (a blur, a brightness
    change), whose distances are far shorter. Each bandwidth's biased MMD^2 gets its
    permutation p-value; the statistic is the smallest of them, itself calibrated on the
    same permutations, so the p-value stays exact under the null hypothesis. The reported
    statistic is the MMD^2 at the median bandwidth.
    """
    x = np.asarray(recent, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        return TestResult("embeddings", 0.0, 1.0, n, m)
    squared = _squared_distances(np.concatenate([x, y]))
    sigma = median_bandwidth(squared)
    weights = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    rng = np.random.default_rng(seed)
    shuffled = [rng.permutation(weights) for _ in range(permutations)]
    # Row 0: the samples as drawn; rows 1..: the permutations. One column per bandwidth.
    statistics = np.stack(
        [
            _mmd_statistics(np.exp(-squared / (2.0 * (factor * sigma) ** 2)), weights, shuffled)
            for factor in BANDWIDTH_FACTORS
        ],
        axis=1,
    )
    # Each row's p-value per bandwidth among all rows, itself included (ties count as at
    # least): the samples as drawn and every permutation are treated alike, so the
    # smallest p-value's rank among the rows is an exact p-value.
    rows = permutations + 1
    ordered = np.sort(statistics, axis=0)
    at_least = np.stack(
        [
            rows - np.searchsorted(ordered[:, b], statistics[:, b] - 1e-12, side="left")
            for b in range(len(BANDWIDTH_FACTORS))
        ],
        axis=1,
    )
    smallest = (at_least / rows).min(axis=1)
    p_value = int(np.sum(smallest <= smallest[0])) / rows
    median = BANDWIDTH_FACTORS.index(1.0)
    return TestResult("embeddings", float(statistics[0, median]), p_value, n, m)


def _mmd_statistics(
    kernel: np.ndarray, weights: np.ndarray, shuffled: list[np.ndarray]
) -> np.ndarray:
    """The biased MMD^2 (w' K w) of the samples as drawn, then of each permutation."""
    out = [float(weights @ kernel @ weights)]
    for start in range(0, len(shuffled), _BLOCK):
        block = np.stack(shuffled[start : start + _BLOCK], axis=1)
        out.extend(np.einsum("ip,ip->p", block, kernel @ block).tolist())
    return np.array(out)


def confidence_test(recent: np.ndarray, reference: np.ndarray) -> TestResult:
    """The two-sample Kolmogorov-Smirnov test on the top probabilities."""
    a = np.asarray(recent, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if len(a) < 1 or len(b) < 1:
        return TestResult("confidence", 0.0, 1.0, len(a), len(b))
    from scipy import stats  # imported when a test runs: see labeler.slices.statistics

    result = stats.ks_2samp(a, b)
    return TestResult("confidence", float(result.statistic), float(result.pvalue), len(a), len(b))


def pooled_table(recent: Sequence[int], reference: Sequence[int]) -> np.ndarray:
    """The 2 x k table of counts per label, labels expected fewer than ``MIN_EXPECTED``
    times in either row pooled into one column (kept only if the pool reaches it too)."""
    table = np.array([recent, reference], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if total == 0:
        return table
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    rare = (expected < MIN_EXPECTED).any(axis=0)
    kept = table[:, ~rare]
    pool = table[:, rare].sum(axis=1, keepdims=True)
    pool_expected = expected[:, rare].sum(axis=1)
    if rare.any() and (pool_expected >= MIN_EXPECTED).all():
        kept = np.concatenate([kept, pool], axis=1)
    return kept


def label_mix_test(recent: np.ndarray, reference: np.ndarray) -> TestResult:
    """The chi-square test of the predicted-label mix (rare labels pooled); p = 1 when fewer
    than two columns are left to compare."""
    a = np.asarray(recent, dtype=np.int64)
    b = np.asarray(reference, dtype=np.int64)
    values = np.union1d(a, b)
    counts_a = [int(np.sum(a == v)) for v in values]
    counts_b = [int(np.sum(b == v)) for v in values]
    table = pooled_table(counts_a, counts_b)
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return TestResult("labels", 0.0, 1.0, len(a), len(b))
    from scipy import stats

    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    return TestResult("labels", float(chi2), float(p_value), len(a), len(b))


def holm(p_values: Sequence[float], rate: float) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise rate ``rate``."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for step, index in enumerate(order):
        if p_values[index] > rate / (len(p_values) - step):
            break
        rejected[index] = True
    return rejected


def permutations_for(rate: float) -> int:
    """Enough permutations that the MMD's smallest p-value clears Holm's strictest cut-off
    (``rate`` / 3) three times over: at least ``DEFAULT_PERMUTATIONS``."""
    return max(DEFAULT_PERMUTATIONS, math.ceil(10 / rate))


def drift_verdict(
    recent: Sample,
    reference: Sample,
    *,
    rate: float,
    cap: int = DEFAULT_CAP,
    seed: int = 0,
    permutations: int | None = None,
) -> Verdict:
    """The three tests on ``recent`` against ``reference`` (each side cut to ``cap``), and
    Holm's verdict at family-wise false-alarm rate ``rate``."""
    rng = np.random.default_rng(seed)
    mine = subsample(len(recent.confidences), cap, rng)
    theirs = subsample(len(reference.confidences), cap, rng)
    has_recent = ~np.isnan(recent.embeddings[mine]).any(axis=1)  # rows logged without one
    tests = [
        mmd_test(
            recent.embeddings[mine][has_recent],
            reference.embeddings[theirs],
            permutations=permutations or permutations_for(rate),
            seed=seed,
        ),
        confidence_test(recent.confidences[mine], reference.confidences[theirs]),
        label_mix_test(recent.labels[mine], reference.labels[theirs]),
    ]
    return Verdict(tests=tests, rejected=holm([t.p_value for t in tests], rate), rate=rate)


def verdict_reason(verdict: Verdict) -> str:
    """The verdict in words: which tests found a difference, with their p-values."""
    words = {
        "embeddings": "the images' embeddings differ from the test set's",
        "confidence": "the model's confidence is distributed differently",
        "labels": "the mix of predicted labels changed",
    }
    found = [
        f"{words[test.name]} (p = {test.p_value:.2g})"
        for test, rejected in zip(verdict.tests, verdict.rejected, strict=True)
        if rejected
    ]
    if not found:
        smallest = min(verdict.tests, key=lambda t: t.p_value)
        return (
            f"No drift found at a {verdict.rate:.2%} false-alarm rate "
            f"(smallest p-value {smallest.p_value:.2g}, {smallest.name})."
        )
    text = "; ".join(found)
    return text[0].upper() + text[1:] + "."
