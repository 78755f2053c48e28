"""Bootstrap confidence intervals for any agreement metric, resampling images."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from labeler.agreement.metrics.counts import Codes, Counts, Floats, check_codes
from labeler.agreement.metrics.figures import Figure
from labeler.agreement.metrics.groups import GroupSums, Terms, draw_sums
from labeler.agreement.metrics.multi_rater import (
    fleiss_kappa,
    fleiss_kappa_values,
    krippendorff_alpha,
    krippendorff_alpha_values,
    percent_agreement,
    percent_agreement_values,
)

Metric = Callable[[Codes, int], Figure]

# Metrics that are ratios of sums over images: every draw's value comes from one sparse
# product (see ``groups``) instead of a pass over the draw's rows.
_FROM_SUMS: dict[Metric, Callable[[GroupSums], Floats]] = {
    fleiss_kappa: fleiss_kappa_values,
    krippendorff_alpha: krippendorff_alpha_values,
    percent_agreement: percent_agreement_values,
}

# Beyond this many images a draw takes this many and its spread is rescaled (see below),
# which bounds the cost of a draw whatever the project's size.
MAX_BOOTSTRAP_ROWS = 20_000


@dataclasses.dataclass(frozen=True)
class _Options:
    n_boot: int
    seed: int
    level: float
    max_rows: int
    terms: Terms | None = None


def bootstrap_ci(
    metric: Metric,
    codes: Codes,
    k: int,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    max_rows: int = MAX_BOOTSTRAP_ROWS,
) -> tuple[float | None, float | None]:
    """A percentile bootstrap interval for ``metric(codes, k).value``, resampling images.

    Each of ``n_boot`` draws takes rows (images) of ``codes`` with replacement, all of an
    image's ratings together, and the interval is the middle ``level`` of the draws' values;
    draws where the metric is undefined are ignored, and (None, None) comes back when every
    draw is. With more than ``max_rows`` images each draw takes only ``max_rows`` of them
    (an m-out-of-n bootstrap) and the interval's distance from the full-data value is scaled
    by sqrt(m / n), since the spread of these figures shrinks with the square root of the
    number of images. The same ``seed`` gives the same interval.
    """
    options = _Options(n_boot=n_boot, seed=seed, level=level, max_rows=max_rows)
    return _interval(metric, codes, k, None, options)


def with_ci(
    figure: Figure,
    metric: Metric,
    codes: Codes,
    k: int,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    max_rows: int = MAX_BOOTSTRAP_ROWS,
    terms: Terms | None = None,
) -> Figure:
    """``figure``, which is ``metric(codes, k)``, with its bootstrap interval (bootstrap_ci).

    An undefined figure comes back as it is. ``terms``, where given, are
    ``terms_of(codes, k)`` made already, which the draws' sums then weigh.
    """
    if figure.value is None:
        return figure
    options = _Options(n_boot=n_boot, seed=seed, level=level, max_rows=max_rows, terms=terms)
    low, high = _interval(metric, codes, k, figure.value, options)
    return dataclasses.replace(figure, ci_low=low, ci_high=high)


def _interval(
    metric: Metric, codes: Codes, k: int, estimate: float | None, options: _Options
) -> tuple[float | None, float | None]:
    check_codes(codes, k)
    if options.n_boot < 1 or options.max_rows < 1 or not 0 < options.level < 1:
        raise ValueError("n_boot and max_rows must be positive and level between 0 and 1.")
    n_items = codes.shape[0]
    draw_size = min(n_items, options.max_rows)
    if draw_size == 0:
        return None, None
    values = _draws(metric, codes, k, draw_size, options)
    if values.size == 0:
        return None, None
    tail = (1.0 - options.level) / 2.0
    low, high = (float(edge) for edge in np.quantile(values, [tail, 1.0 - tail]))
    if draw_size == n_items:
        return low, high
    if estimate is None:
        estimate = metric(codes, k).value
    if estimate is None:
        return None, None
    scale = math.sqrt(draw_size / n_items)
    return estimate + scale * (low - estimate), estimate + scale * (high - estimate)


def _draws(metric: Metric, codes: Codes, k: int, draw_size: int, options: _Options) -> Floats:
    """The metric's defined values over the resampled draws."""
    rng = np.random.default_rng(options.seed)
    draws: Counts = np.stack(
        [rng.integers(0, codes.shape[0], draw_size) for _ in range(options.n_boot)]
    )
    from_sums = _FROM_SUMS.get(metric)
    if from_sums is not None:
        values = from_sums(draw_sums(codes, k, draws, options.terms))
        return values[~np.isnan(values)]
    # A narrow dtype makes gathering the resampled rows several times cheaper.
    compact: Codes = codes.astype(np.int8 if k <= 127 else np.int32)
    found = (metric(compact[chosen], k).value for chosen in draws)
    return np.array([value for value in found if value is not None], dtype=np.float64)
