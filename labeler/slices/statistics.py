"""The statistics of a slice report, pure: arrays in, figures, tests and words out.

Three questions are asked of each slice (a set of images), each against the rest of the
project's images:

- **Label mix**: do its final labels come in other proportions than the rest's? Single
  label: Pearson's chi-square test of the 2 x k table (slice, rest) x label; where an
  expected count is below 5 the p-value is simulated instead, from tables drawn with the
  same margins (Patefield's algorithm, ``scipy.stats.random_table``, seeded: an exact
  conditional test up to the simulation's resolution). Multi-label (an image can carry
  several labels): Fisher's exact test per label on (slice, rest) x (carries it, not),
  the smallest p-value times the number of labels (Bonferroni).
- **Labels worse**: is the annotators' agreement lower? Fleiss' kappa inside and outside,
  each with its linearised standard error (``agreement.metrics.linearised``), compared by
  a one-sided z-test.
- **Model worse**: is the model's accuracy on the slice's test images lower? Fisher's exact
  test, one-sided, on (slice, rest) x (right, wrong).

A slice with fewer than ``MIN_TESTED`` images for a question is shown but not tested.
Testing many slices finds some by chance, so each question's p-values are adjusted
together (``adjust``: Holm by default, so that the chance of any clean slice being flagged
stays below ``ALPHA``; Benjamini-Hochberg on request, which finds more where many slices
differ, at the cost of some false flags among them) and a slice is flagged when its
adjusted p-value is below ``ALPHA``.

Each slice is compared with the rest, and the rest holds the other slices: one slice far
from the others moves the rest too. For the two "worse" questions that only makes the
other slices look better (the tests are one-sided); a label mix is tested both ways, so
beside a slice with a very different mix, others can read as differing the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from labeler.agreement.metrics import Figure
from labeler.agreement.metrics.linearised import KappaEstimate
from labeler.agreement.metrics.pairwise import Z_95

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

ALPHA = 0.05
MIN_TESTED = 20
# statsmodels' names of the corrections offered, and how the report names them.
CORRECTIONS = {"fdr_bh": "Benjamini-Hochberg", "holm": "Holm"}
DEFAULT_CORRECTION = "holm"
SMALL_EXPECTED = 5.0
SIMULATED_TABLES = 4999
SEED = 0


@dataclass(frozen=True)
class Imbalance:
    """How uneven a set of label counts is, and the same in words."""

    n_images: int
    rarest: int | None  # index of the rarest label
    rarest_share: float | None
    ratio: float | None  # largest count over smallest; None when a label has none
    level: str
    words: str


@dataclass(frozen=True)
class Test:
    """One slice tested against the rest: the p-value (None: not tested, ``reason`` says
    why), the test's name, the effect (signed; ``effect_name`` says what it measures) and
    the effect in words."""

    p_value: float | None
    method: str
    effect: float | None
    effect_name: str
    words: str
    reason: str | None = None


# Largest over smallest label count: below each bound, the word for it.
_LEVELS = ((1.5, "balanced"), (3.0, "mildly imbalanced"), (10.0, "imbalanced"))


def imbalance(counts: Ints, names: list[str]) -> Imbalance:
    """How uneven ``counts`` (images per label) are: the rarest label's share and the ratio
    of the largest count to the smallest, in words.

    The ratio's words: below 1.5 "balanced", below 3 "mildly imbalanced", below 10
    "imbalanced", else "severely imbalanced"; a label without images makes it "severely
    imbalanced" and the ratio None. Shares are of the images counted; in a multi-label
    project an image counts once per label it carries.
    """
    total = int(counts.sum())
    if total == 0 or counts.size == 0:
        return Imbalance(total, None, None, None, "none", "No final labels yet.")
    rarest = int(np.argmin(counts))
    share = float(counts[rarest]) / total
    if counts[rarest] == 0:
        missing = [names[i] for i in np.flatnonzero(counts == 0)]
        words = f"Severely imbalanced: no image is labelled {_quoted_list(missing)}."
        return Imbalance(total, rarest, share, None, "severely imbalanced", words)
    ratio = float(counts.max()) / float(counts[rarest])
    level = next((word for bound, word in _LEVELS if ratio < bound), "severely imbalanced")
    largest = names[int(np.argmax(counts))]
    words = (
        f"{level.capitalize()}: the rarest label, “{names[rarest]}”, has {_percent(share)} of "
        f"the labels ({counts[rarest]:,}); the largest, “{largest}”, has {ratio:.1f} times as many."
    )
    return Imbalance(total, rarest, share, ratio, level, words)


def label_mix_test(
    inside: Ints, outside: Ints, names: list[str], *, images: tuple[int, int], multi_label: bool
) -> Test:
    """Whether the label counts ``inside`` the slice differ from those ``outside`` beyond chance.

    ``images`` is the number of final-labelled images inside and outside (in a multi-label
    project the counts are images carrying each label, so they do not add up to it).
    """
    if min(images) < MIN_TESTED:
        return _untested("label mix", _too_few(images, "final-labelled image"))
    if multi_label:
        return _label_rates_test(inside, outside, names, images)
    used = (inside + outside) > 0
    if np.count_nonzero(used) < 2:
        return _untested("label mix", "only one label is used: there is no mix to compare")
    table = np.stack([inside[used], outside[used]]).astype(np.int64)
    statistic, p_value, method = _chi_square(table)
    cramers_v = float(np.sqrt(statistic / table.sum()))
    return Test(
        p_value=p_value,
        method=method,
        effect=cramers_v,
        effect_name="Cramér's V",
        words=f"{_most_shifted(inside, outside, names, images)} (Cramér's V {cramers_v:.2f})",
    )


def _chi_square(table: Ints) -> tuple[float, float, str]:
    """Pearson's statistic of a 2 x k table, its p-value and how that was found."""
    # scipy.stats and statsmodels are imported where a test runs: they take a second and a
    # half to import, which every process that loads the URLs would pay at its start.
    from scipy import stats

    result = stats.chi2_contingency(table, correction=False)
    statistic = float(result.statistic)
    if result.expected_freq.min() >= SMALL_EXPECTED:
        return statistic, float(result.pvalue), "chi-square test"
    rows, columns = table.sum(axis=1), table.sum(axis=0)
    drawn = stats.random_table(rows, columns, seed=SEED).rvs(SIMULATED_TABLES)
    expected = result.expected_freq
    simulated = (((drawn - expected) ** 2) / expected).sum(axis=(1, 2))
    # A tolerance: the observed table is among the drawn ones, its statistic rounded apart.
    larger = int(np.count_nonzero(simulated >= statistic - 1e-9 * max(statistic, 1.0)))
    p_value = (larger + 1) / (SIMULATED_TABLES + 1)
    method = f"chi-square test, p-value from {SIMULATED_TABLES:,} tables with the same margins"
    return statistic, p_value, method


def _label_rates_test(
    inside: Ints, outside: Ints, names: list[str], images: tuple[int, int]
) -> Test:
    """Fisher's exact test per label (carried or not), Bonferroni over the labels."""
    from scipy import stats

    n_in, n_out = images
    p_values = np.array(
        [
            stats.fisher_exact([[a, n_in - a], [b, n_out - b]]).pvalue
            for a, b in zip(inside.tolist(), outside.tolist(), strict=True)
        ]
    )
    worst = int(np.argmin(p_values))
    share_in, share_out = inside[worst] / n_in, outside[worst] / n_out
    return Test(
        p_value=float(min(1.0, p_values[worst] * len(p_values))),
        method="Fisher's exact test per label, Bonferroni over the labels",
        effect=float(share_in - share_out),
        effect_name="difference in the share of images carrying the label",
        words=(
            f"“{names[worst]}” is on {_percent(share_in)} of these images against "
            f"{_percent(share_out)} of the rest"
        ),
    )


def _most_shifted(inside: Ints, outside: Ints, names: list[str], images: tuple[int, int]) -> str:
    """The label whose share moves most between the slice and the rest, in words."""
    shares_in = inside / max(int(inside.sum()), 1)
    shares_out = outside / max(int(outside.sum()), 1)
    label = int(np.argmax(np.abs(shares_in - shares_out)))
    return (
        f"“{names[label]}” is {_percent(shares_in[label])} of these labels against "
        f"{_percent(shares_out[label])} of the rest"
    )


def kappa_difference_test(inside: KappaEstimate, outside: KappaEstimate) -> Test:
    """Whether the slice's kappa is lower than the rest's: one-sided z-test of the difference.

    The two are computed on disjoint images, so the difference's standard error is the root
    of the sum of their squared errors. The p-value is small when the slice is worse.
    """
    name = "Fleiss' kappa, one-sided z-test of the difference"
    figures = (inside.figure, outside.figure)
    if min(f.n_items for f in figures) < MIN_TESTED:
        counts = (figures[0].n_items, figures[1].n_items)
        return _untested(name, _too_few(counts, "image labelled twice", "images labelled twice"))
    if inside.std_error is None or outside.std_error is None:
        return _untested(name, "kappa is undefined inside or outside this slice")
    here, rest = figures[0].value, figures[1].value
    assert here is not None and rest is not None  # defined where it has an error
    spread = float(np.hypot(inside.std_error, outside.std_error))
    difference = here - rest
    if spread == 0:
        p_value = 0.0 if difference < 0 else 1.0
    else:
        from scipy import stats

        p_value = float(stats.norm.cdf(difference / spread))
    return Test(
        p_value=p_value,
        method=name,
        effect=difference,
        effect_name="kappa here minus kappa in the rest",
        words=(
            f"κ {_signed(here)} on {figures[0].n_items:,} images against {_signed(rest)} on the "
            f"other {figures[1].n_items:,}: {_more_or_less(difference, 'higher', 'lower')}"
        ),
    )


def accuracy_difference_test(right: tuple[int, int], images: tuple[int, int]) -> Test:
    """Whether the model is right less often on the slice's test images than on the rest's.

    ``right`` and ``images``: (inside, outside). Fisher's exact test, one-sided (odds of
    being right lower inside); small when the slice is worse.
    """
    name = "Fisher's exact test, one-sided"
    if min(images) < MIN_TESTED:
        return _untested(name, _too_few(images, "test image"))
    (a, b), (n_in, n_out) = right, images
    from scipy import stats

    p_value = float(stats.fisher_exact([[a, n_in - a], [b, n_out - b]], alternative="less").pvalue)
    difference = a / n_in - b / n_out
    points = f"{abs(difference) * 100:.0f} points {'higher' if difference > 0 else 'lower'}"
    return Test(
        p_value=p_value,
        method=name,
        effect=difference,
        effect_name="accuracy here minus accuracy in the rest",
        words=(
            f"accuracy {_percent(a / n_in)} on {n_in:,} test images against "
            f"{_percent(b / n_out)} on the other {n_out:,}: "
            f"{points if round(difference * 100) else 'the same'}"
        ),
    )


def ratio_within(numerator: Floats, denominator: Floats, chosen: Mask) -> Figure:
    """sum(numerator) / sum(denominator) over the rows ``chosen``, with a 95% interval.

    For shares of ratings that are clustered in rows (the ratings of one image): each row
    is one unit, and the interval comes from the ratio's linearised standard error,
    clipped to [0, 1]. ``n_items`` counts the rows with a nonzero denominator. Sums are
    products with the rows' 0/1 weights, with no copy of the rows.
    """
    weights = (chosen & (denominator > 0)).astype(np.float64)
    n_rows = int(weights.sum())
    if n_rows == 0:
        return Figure(value=None, reason="no image here has a final label and a rating", n_items=0)
    bottom = float(np.einsum("i,i->", weights, denominator))
    share = float(np.einsum("i,i->", weights, numerator)) / bottom
    if n_rows < 2:
        return Figure(value=share, reason=None, n_items=n_rows)
    influence = weights * (numerator - share * denominator) / bottom
    spread = float(np.einsum("i,i->", influence, influence))
    error = float(np.sqrt(n_rows / (n_rows - 1.0) * spread))
    low, high = (float(np.clip(share + side * Z_95 * error, 0.0, 1.0)) for side in (-1, 1))
    return Figure(value=share, reason=None, n_items=n_rows, ci_low=low, ci_high=high)


def adjust(p_values: list[float | None], method: str = DEFAULT_CORRECTION) -> list[float | None]:
    """The p-values adjusted for testing them together (None stays None: not tested)."""
    if method not in CORRECTIONS:
        raise ValueError(f"method must be one of {sorted(CORRECTIONS)}, not {method!r}.")
    tested = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if not tested:
        return adjusted
    values = np.array([p_values[i] for i in tested], dtype=np.float64)
    if method == "holm":
        corrected = _holm(values)
    else:
        from statsmodels.stats.multitest import multipletests

        corrected = multipletests(values, method=method)[1]
    for i, value in zip(tested, corrected.tolist(), strict=True):
        adjusted[i] = float(value)
    return adjusted


def _holm(p_values: Floats) -> Floats:
    """Holm's step-down adjustment: the i-th smallest p-value times (m - i), made monotone.

    The same figures as statsmodels' ``multipletests(method="holm")`` (a test checks), which
    runs a full garbage collection on every call: a quarter of a second in a web process.
    """
    m = p_values.size
    order = np.argsort(p_values, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate(p_values[order] * np.arange(m, 0, -1)))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


def flagged(p_adjusted: float | None) -> bool:
    """Whether an adjusted p-value flags its slice."""
    return p_adjusted is not None and p_adjusted < ALPHA


def _untested(method: str, reason: str) -> Test:
    return Test(None, method, None, "", "", reason=reason)


def _too_few(counts: tuple[int, int], noun: str, nouns: str = "") -> str:
    """Why a slice is not tested: too few images in it, or in the rest."""
    inside, outside = counts
    if outside == 0 and inside > 0:
        return "every such image is in this slice: there is no rest to compare it with"
    where = "this slice" if inside < MIN_TESTED else "the rest of the project"
    found = inside if inside < MIN_TESTED else outside
    words = noun if found == 1 else (nouns or f"{noun}s")
    return f"{found:,} {words} in {where}, fewer than {MIN_TESTED}: shown, not tested"


def _more_or_less(difference: float, more: str, less: str) -> str:
    if abs(difference) < 0.005:
        return "the same"
    return f"{abs(difference):.2f} {more if difference > 0 else less}"


def _signed(value: float) -> str:
    """Two decimals, with a true minus sign (a hyphen reads as a dash beside figures)."""
    return f"{value:.2f}".replace("-", "\u2212")


def _percent(share: Any) -> str:
    return f"{float(share) * 100:.0f}%"


def _quoted_list(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
