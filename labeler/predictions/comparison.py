"""Two models on the same test images: better, worse, or no difference beyond noise (pure).

Both models' predictions on each image are paired. Which is better is decided on the
images only one of them gets right (an exact two-sided McNemar test: the binomial test
of those counts against even odds, scipy's ``binomtest``): below ``APART_P_VALUE`` the
one right more often is better (or worse) beyond noise; otherwise the test images cannot
tell them apart. The gain in macro-F1 comes with its 95% paired bootstrap interval (both
models scored on the same draws of the images), shown beside the verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labeler.predictions.evaluation import (
    BOOTSTRAP_DRAWS,
    BOOTSTRAP_SEED,
    correct_per_image,
    draw_weights,
    f1_scores,
    indicators,
    nanmean_rows,
)
from labeler.predictions.figures import INTERVAL_LEVEL, figure
from labeler.predictions.resampling import MIN_BOOTSTRAP_IMAGES
from labeler.words import counted, noun

APART_P_VALUE = 0.05
BETTER, SAME, WORSE = "better", "same", "worse"
TEST_NAME = "exact McNemar test (two-sided)"


def mcnemar_p_value(only_first: int, only_second: int) -> float:
    """The exact two-sided McNemar p-value of two models' discordant images."""
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    from scipy.stats import binomtest  # imported when used: see agreement.metrics.figures

    return float(binomtest(only_first, discordant, 0.5).pvalue)


def verdict_of(only_current: int, only_candidate: int, p_value: float) -> str:
    """``BETTER``, ``WORSE`` (the candidate, beyond noise) or ``SAME``."""
    if p_value >= APART_P_VALUE or only_current == only_candidate:
        return SAME
    return BETTER if only_candidate > only_current else WORSE


def paired_comparison(
    *,
    y_true: Any,
    current: tuple[np.ndarray, list[float] | None],
    candidate: tuple[np.ndarray, list[float] | None],
    multi_label: bool,
    n_boot: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """The current and the candidate model on the same images: each one's accuracy and
    macro-F1, the images only one gets right, the test's p-value and verdict, and the
    candidate's macro-F1 gain with its interval. ``current`` and ``candidate``: each
    model's probabilities (N, L) and thresholds (multi-label; None: 0.5)."""
    rights, f1_parts, figures = [], [], {}
    for prefix, (probabilities, thresholds) in (("", current), ("candidate_", candidate)):
        probs = np.asarray(probabilities, dtype=np.float64)
        truth, predicted = indicators(y_true, probs, multi_label, thresholds)
        right = correct_per_image(
            y_true=y_true, probabilities=probs, multi_label=multi_label, thresholds=thresholds
        )
        parts = [(predicted & truth), (predicted & ~truth), (~predicted & truth)]
        f1_parts.append([part.astype(np.float64) for part in parts])
        figures[f"{prefix}accuracy"] = float(right.mean())
        figures[f"{prefix}macro_f1"] = _macro_f1(np.ones((1, len(right))), f1_parts[-1])[0]
        rights.append(right)
    only_current = int((rights[0] & ~rights[1]).sum())
    only_candidate = int((rights[1] & ~rights[0]).sum())
    p_value = mcnemar_p_value(only_current, only_candidate)
    return {
        **{key: None if not np.isfinite(v) else float(v) for key, v in figures.items()},
        "only_current_right": only_current,
        "only_candidate_right": only_candidate,
        "p_value": p_value,
        "test": TEST_NAME,
        "verdict": verdict_of(only_current, only_candidate, p_value),
        "macro_f1_gain": _gain(figures, f1_parts, len(rights[0]), n_boot, seed),
    }


def _macro_f1(weights: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
    tp, fp, fn = (weights @ part for part in parts)
    return nanmean_rows(f1_scores(tp, fp, fn))


def _gain(
    figures: dict[str, float], parts: list[list[np.ndarray]], n: int, n_boot: int, seed: int
) -> dict[str, Any]:
    """The candidate's macro-F1 minus the current one's, with its paired bootstrap interval."""
    gain = figures["candidate_macro_f1"] - figures["macro_f1"]
    if not np.isfinite(gain):
        return figure(None, n, reason="Macro-F1 cannot be computed on these images.")
    if n < MIN_BOOTSTRAP_IMAGES:
        why = (
            f"No interval: {counted(n, 'image')} {noun(n, 'is', 'are')} too few "
            f"({MIN_BOOTSTRAP_IMAGES} needed)."
        )
        return figure(gain, n, reason=why)
    labels = parts[0][0].shape[1]
    values = [
        _macro_f1(weights, parts[1]) - _macro_f1(weights, parts[0])
        for weights in draw_weights(n, n_boot, seed, cells=n * labels)
    ]
    draws = np.concatenate(values)
    draws = draws[np.isfinite(draws)]
    tail = (1 - INTERVAL_LEVEL) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    if low == high:
        return figure(gain, n, reason=f"No interval: every bootstrap draw gives {low:+.3f}.")
    return figure(gain, n, [low, high])
