"""The bootstrap over test images: every figure of a scorecard on each draw (pure).

A draw is ``n`` images drawn with replacement, kept as how often it drew each image (a
weighting); every figure is computed on the same draws (``evaluation.draw_weights``,
seeded), so the same probabilities give the same intervals. ``Draws`` turns the draws into
a figure's 95% percentile interval, or says why there is none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labeler.predictions import curves, ranking
from labeler.predictions.evaluation import draw_weights, f1_scores, nanmean_rows
from labeler.predictions.figures import INTERVAL_LEVEL, figure
from labeler.words import counted, noun

MIN_BOOTSTRAP_IMAGES = 20
MIN_CLASS_IMAGES = 5
# Draws that leave a figure undefined (a label's positives all left out) are dropped;
# above this share of them the interval would rest on a biased subset: none is given.
MAX_UNDEFINED_DRAWS = 0.05
# Fewer draws on very large test sets (images x labels), never fewer than MIN_DRAWS: a
# thousand draws of 5,000 images and 10 labels take about 15 s on a busy 2-core machine,
# and intervals that narrow need fewer draws to place their ends.
CELL_DRAWS_BUDGET = 200_000_000
MIN_DRAWS = 200
EVERY_IMAGE_HAS_IT = "Every test image has this label: nothing to rank it against."


class Draws:
    """The bootstrap: every figure's value on each draw of the images, and its interval."""

    def __init__(self, n: int, n_boot: int, seed: int, enough: bool) -> None:
        self.n, self.n_boot, self.seed, self.enough = n, n_boot, seed, enough
        self.samples: dict[Any, np.ndarray] = {}
        self.values: dict[Any, float] = {}

    @classmethod
    def of(
        cls,
        truth: np.ndarray,
        predicted: np.ndarray,
        probs: np.ndarray,
        confidence: np.ndarray,
        outcome: np.ndarray,
        n_boot: int,
        seed: int,
    ) -> Draws:
        n, n_labels = truth.shape
        cells = n * (2 * n_labels + 1)
        n_boot = max(min(n_boot, MIN_DRAWS), min(n_boot, CELL_DRAWS_BUDGET // cells))
        draws = cls(n, n_boot, seed, enough=n >= MIN_BOOTSTRAP_IMAGES)
        if draws.enough:
            draws.samples = _bootstrap(truth, predicted, probs, confidence, outcome, n_boot, seed)
        return draws

    def figure(self, key: Any, value: Any, reason: str | None = None) -> dict[str, Any]:
        """A bootstrapped figure: its value, and its interval where the draws allow one."""
        if value is None or not np.isfinite(value):
            return figure(None, self.n, reason=reason or "It cannot be computed on these images.")
        if not self.enough:
            return figure(value, self.n, reason=self._too_few())
        interval, why = self._interval(self.samples[key])
        if interval is not None and not interval[0] <= value <= interval[1]:
            why = _beside(value, interval)
        return figure(value, self.n, interval, why)

    def ranking_figure(self, kind: str, j: int, has: int, lacks: int) -> dict[str, Any]:
        """A label's ROC AUC or average precision, null without images with and without it."""
        if not has:
            return figure(None, self.n, reason="No test image has this label.")
        if not lacks:
            return figure(None, self.n, reason=EVERY_IMAGE_HAS_IT)
        value = self.values[(kind, j)]
        if min(has, lacks) < MIN_CLASS_IMAGES:
            why = (
                f"No interval: too few test images with ({has}) or without ({lacks}) this "
                f"label ({MIN_CLASS_IMAGES} of each needed)."
            )
            return figure(value, self.n, reason=why)
        return self.figure((kind, j), value)

    def _too_few(self) -> str:
        return (
            f"No interval: {counted(self.n, 'test image')} {noun(self.n, 'is', 'are')} too few "
            "for a bootstrap interval "
            f"({MIN_BOOTSTRAP_IMAGES} needed)."
        )

    def _interval(self, values: np.ndarray) -> tuple[list[float] | None, str | None]:
        defined = values[np.isfinite(values)]
        if len(defined) < (1 - MAX_UNDEFINED_DRAWS) * len(values):
            return None, (
                f"No interval: the figure cannot be computed on {len(values) - len(defined)} "
                f"of {len(values)} bootstrap draws (too few images of some label)."
            )
        tail = (1 - INTERVAL_LEVEL) / 2
        low, high = np.quantile(defined, [tail, 1 - tail])
        if low == high:
            return None, (
                f"No interval: all {len(defined)} bootstrap draws give {low:.2f} (as when every "
                "test image is right), so resampling cannot bound it."
            )
        return [float(low), float(high)], None


def _beside(value: float, interval: list[float]) -> str:
    """Said of a percentile interval that leaves out its own figure: resampling moved the
    figure itself, as it moves the calibration error of a well-calibrated model upward (a
    draw repeats images, and fewer images a bin make bins look worse), so the interval
    tells how much the figure varies, not where it lies."""
    side, way = ("above", "upward") if interval[0] > value else ("below", "downward")
    return (
        f"The 95% interval of the bootstrap draws ({interval[0]:.3g} to {interval[1]:.3g}) "
        f"lies {side} {value:.3g}: resampling moves this figure {way}, so the interval tells "
        "how much it varies, not where it lies."
    )


def _bootstrap(
    truth: np.ndarray,
    predicted: np.ndarray,
    probs: np.ndarray,
    confidence: np.ndarray,
    outcome: np.ndarray,
    n_boot: int,
    seed: int,
) -> dict[Any, np.ndarray]:
    """Each figure's value on each of ``n_boot`` draws of the images with replacement."""
    n, n_labels = truth.shape
    parts = [(predicted & truth), (predicted & ~truth), (~predicted & truth)]
    parts_f = [p.astype(np.float64) for p in parts]
    ranks = {
        j: ranking.ranked(truth[:, j], probs[:, j])
        for j in range(n_labels)
        if 0 < truth[:, j].sum() < n
    }
    micro = None
    if 0 < truth.sum() < truth.size:
        image_of = np.repeat(np.arange(n), n_labels)
        micro = ranking.ranked(truth.ravel(), probs.ravel(), image_of)
    bins = _bin_tallies(confidence, outcome)
    out: dict[Any, list[np.ndarray]] = {}

    def add(key: Any, values: np.ndarray) -> None:
        out.setdefault(key, []).append(values)

    for weights in draw_weights(n, n_boot, seed, cells=n * (n_labels if micro else 1)):
        tp, fp, fn = (weights @ part for part in parts_f)
        f1 = f1_scores(tp, fp, fn)
        for j in range(n_labels):
            add(("f1", j), f1[:, j])
        add("macro_f1", nanmean_rows(f1))
        add("micro_f1", f1_scores(tp.sum(1), fp.sum(1), fn.sum(1)))
        scored = {j: ranking.ranking_scores(r, weights) for j, r in ranks.items()}
        for k, kind in enumerate(("roc_auc", "average_precision")):
            for j, both in scored.items():
                add((kind, j), both[k])
            macro = [both[k] for both in scored.values()]
            add(f"{kind}_macro", np.mean(macro, axis=0) if macro else np.full(len(tp), np.nan))
        if micro is not None:
            micro_auc, micro_ap = ranking.ranking_scores(micro, weights)
            add("roc_auc_micro", micro_auc)
            add("average_precision_micro", micro_ap)
        add("ece", _ece(weights, *bins))
    return {key: np.concatenate(chunks) for key, chunks in out.items()}


def _bin_tallies(
    confidence: np.ndarray, outcome: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image and calibration bin: how many of its probabilities fall there, their sum,
    and how many came true (an image holds one probability, or one per label)."""
    conf = confidence.reshape(len(confidence), -1)
    hit = outcome.reshape(len(outcome), -1)
    edges = np.linspace(0.0, 1.0, curves.CALIBRATION_BINS + 1)
    bins = np.searchsorted(edges[1:-1], conf)
    shape = (len(conf), curves.CALIBRATION_BINS)
    counts, sums, hits = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    rows = np.repeat(np.arange(len(conf)), conf.shape[1])
    np.add.at(counts, (rows, bins.ravel()), 1.0)
    np.add.at(sums, (rows, bins.ravel()), conf.ravel())
    np.add.at(hits, (rows, bins.ravel()), hit.ravel())
    return counts, sums, hits


def _ece(weights: np.ndarray, counts: np.ndarray, sums: np.ndarray, hits: np.ndarray) -> np.ndarray:
    gap = np.abs(weights @ sums - weights @ hits).sum(axis=1)
    total = (weights @ counts).sum(axis=1)
    return np.divide(gap, total, out=np.full(len(weights), np.nan), where=total > 0)
