"""The result every agreement metric returns, the reasons a metric can be undefined, bands,
and the interval of a share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

NO_PAIRS = "fewer than two annotators rated any image"
ONE_CATEGORY_KAPPA = (
    "every rating is the same category, so chance agreement is 1 and kappa is undefined"
)
ONE_CATEGORY_ALPHA = (
    "every rating is the same category, so expected disagreement is 0 and alpha is undefined"
)


@dataclass(frozen=True)
class Figure:
    """One agreement figure: a value, or None and the reason it is undefined.

    ``n_items`` is the number of images the figure is computed over; ``ci_low`` and
    ``ci_high`` are a 95% confidence interval where the figure has one: a bootstrap one when
    asked for (see ``with_ci``), the asymptotic one of each pairwise Cohen's kappa.
    """

    value: float | None
    reason: str | None
    n_items: int
    ci_low: float | None = None
    ci_high: float | None = None


def defined(value: float, n_items: int) -> Figure:
    """A figure with a value, at full float precision."""
    return Figure(value=float(value), reason=None, n_items=int(n_items))


def undefined(reason: str, n_items: int) -> Figure:
    """A figure that has no value, saying why."""
    return Figure(value=None, reason=reason, n_items=int(n_items))


def wilson_bounds(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``n`` items (``n`` > 0), scipy's
    ``binomtest(...).proportion_ci(method="wilson")``: it stays inside [0, 1] and keeps its
    coverage on a few items and near 0% or 100%. Every share's interval is this one.

    Written out (Newcombe 1998, as scipy does, the bound at 0 or 1 exact where every item
    or none succeeded) with the standard library's normal quantile: importing scipy.stats
    for it took about 1.8 s, paid by the first report a web process drew.
    """
    k, n = int(successes), int(n)
    z = NormalDist().inv_cdf(0.5 + 0.5 * level)
    p = k / n
    denominator = 2 * (n + z * z)
    center = (2 * n * p + z * z) / denominator
    delta = z / denominator * math.sqrt(4 * n * p * (1 - p) + z * z)
    return (0.0 if k == 0 else center - delta), (1.0 if k == n else center + delta)


_BANDS: tuple[tuple[float, str], ...] = (
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
)


def kappa_band(value: float | None) -> str | None:
    """The Landis and Koch words for a kappa (or alpha) value, or None for no value.

    Bands from J. R. Landis and G. G. Koch (1977), "The Measurement of Observer Agreement
    for Categorical Data", Biometrics 33(1):159-174, table on p. 165: below 0 "poor",
    0.00-0.20 "slight", 0.21-0.40 "fair", 0.41-0.60 "moderate", 0.61-0.80 "substantial",
    0.81-1.00 "almost perfect". The published bands are given to two decimals; here each
    upper edge is inclusive and anything above it belongs to the next band, so 0.20 is
    "slight" and 0.205 is "fair". None or NaN (no value) has no band.
    """
    if value is None or math.isnan(value):
        return None
    if value < 0:
        return "poor"
    for upper, word in _BANDS:
        if value <= upper:
            return word
    return "almost perfect"
