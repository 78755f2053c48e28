"""ROC and precision-recall curves and the reliability diagram, as stored (pure).

The curves are scikit-learn's (``roc_curve``, ``precision_recall_curve``), thinned to at
most ``CURVE_POINTS`` points so that a version's figures stay small on a large test set;
the areas are computed on the full curves, never on the thinned ones. The reliability
diagram bins probabilities as ``sklearn.calibration.calibration_curve`` does
(``strategy="uniform"``): ten equal-width bins, each closed on its right.

scikit-learn is imported where a curve is drawn, not with the module: importing it takes
most of a second, which every process that loads the URLs (the web's, each worker's, each
command's) would pay at its start.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labeler.predictions.figures import wilson

CURVE_POINTS = 101
CALIBRATION_BINS = 10
_DIGITS = 4


def thin(xs: np.ndarray, ys: np.ndarray, limit: int = CURVE_POINTS) -> tuple[list, list]:
    """At most ``limit`` points of a curve, evenly spaced along it, first and last kept."""
    if len(xs) > limit:
        keep = np.unique(np.linspace(0, len(xs) - 1, limit).round().astype(np.int64))
        xs, ys = xs[keep], ys[keep]
    return np.round(xs, _DIGITS).tolist(), np.round(ys, _DIGITS).tolist()


def roc_points(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The ROC curve (false and true positive rates), thinned, and its full length."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    x, y_ = thin(fpr, tpr)
    return {"fpr": x, "tpr": y_, "points": len(fpr)}


def macro_roc_points(curves: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The labels' ROC curves averaged: each one's true positive rate interpolated at every
    false positive rate any of them reaches, then the mean (scikit-learn's example)."""
    grid = np.unique(np.concatenate([fpr for fpr, _ in curves]))
    mean = np.mean([np.interp(grid, fpr, tpr) for fpr, tpr in curves], axis=0)
    x, y = thin(grid, mean)
    return {"fpr": x, "tpr": y, "points": len(grid)}


def full_roc(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The full ROC curve (false, true positive rates), for the macro average."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    return fpr, tpr


def pr_points(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The precision-recall curve, thinned, and its full length; ``base``: the share of
    positives, a random ranking's precision."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, scores)
    x, y_ = thin(recall, precision)
    return {"recall": x, "precision": y_, "points": len(recall), "base": float(np.mean(y))}


def calibration_bins(confidence: np.ndarray, outcome: np.ndarray) -> list[dict[str, Any]]:
    """The reliability diagram: per bin of confidence, how many, their mean confidence and
    how often the outcome came true, with its 95% Wilson interval (empty bins: no figures).
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    outcome = np.asarray(outcome, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.searchsorted(edges[1:-1], confidence)
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    sums = np.bincount(bins, weights=confidence, minlength=CALIBRATION_BINS)
    hits = np.bincount(bins, weights=outcome, minlength=CALIBRATION_BINS)
    rows = []
    for b in range(CALIBRATION_BINS):
        count = int(counts[b])
        row: dict[str, Any] = {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": count,
            "confidence": None,
            "observed": None,
            "interval": None,
        }
        if count:
            row.update(
                confidence=float(sums[b] / count),
                observed=float(hits[b] / count),
                interval=wilson(round(hits[b]), count),
            )
        rows.append(row)
    return rows


def calibration_error(bins: list[dict[str, Any]]) -> float:
    """The expected calibration error of the diagram: the bins' gaps between confidence
    and outcome, weighted by their counts."""
    total = sum(row["count"] for row in bins)
    gap = sum(
        row["count"] * abs(row["confidence"] - row["observed"]) for row in bins if row["count"]
    )
    return float(gap / total) if total else float("nan")
