"""How good a model is on held-out test images: every figure with its interval and n (pure).

``scorecard`` scores a model's probabilities on test images it never saw: accuracy,
macro- and micro-F1, per label precision, recall, F1, ROC AUC and average precision
(one-vs-rest for single-label; macro and micro averages), the confusion matrix, the ROC
and precision-recall curves, and calibration (expected calibration error and the
reliability diagram). Each value is scikit-learn's on the same probabilities. Each figure
is ``{"value", "interval", "n", "reason"}``: ``interval`` its 95% interval, ``n`` how
many images it rests on, ``reason`` why the value or the interval is missing (null,
never 0). Intervals:

- shares of images (accuracy, a label's precision and recall): the Wilson score interval
  (scipy), honest on a few images and near 0% or 100%;
- everything else: the percentile bootstrap over the test images, ``BOOTSTRAP_DRAWS``
  draws with a fixed seed (the same probabilities give the same interval), every figure
  computed on the same draws. None below ``MIN_BOOTSTRAP_IMAGES`` images, for a label's
  ROC AUC and average precision below ``MIN_CLASS_IMAGES`` images with and without it,
  and none where every draw gives the same value (a perfect score on a few dozen
  images): resampling cannot bound it, and "1.00 to 1.00" would claim a certainty the
  test set does not give.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from labeler.predictions import curves
from labeler.predictions.evaluation import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, indicators
from labeler.predictions.figures import INTERVAL_LEVEL, figure, wilson
from labeler.predictions.resampling import Draws


def scorecard(
    *,
    y_true: Any,
    probabilities: Any,
    label_ids: list[int],
    multi_label: bool,
    thresholds: list[float] | None = None,
    n_boot: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Every test figure of a model (see the module); ``y_true`` as in ``evaluation``."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] != len(label_ids):
        raise ValueError("probabilities must be (images, labels) with at least one image")
    truth, predicted = indicators(y_true, probs, multi_label, thresholds)
    confidence, outcome = _calibration_inputs(truth, predicted, probs, multi_label)
    n = len(probs)
    draws = Draws.of(truth, predicted, probs, confidence, outcome, n_boot, seed)
    ranking_figures = _ranking_figures(truth, probs, label_ids, draws)  # per_label reads them
    return {
        "images": n,
        "labels": list(label_ids),
        "interval_level": INTERVAL_LEVEL,
        "interval_methods": {
            "shares": "Wilson score interval",
            "others": (
                f"percentile bootstrap over the test images, {draws.n_boot} draws, seed {seed}"
            ),
        },
        **_headline(truth, predicted, multi_label, draws),
        **ranking_figures,
        "per_label": _per_label(truth, predicted, label_ids, thresholds, draws),
        "confusion": _confusion(y_true, probs, predicted, label_ids, multi_label, truth),
        "curves": _curves(truth, probs, label_ids),
        "calibration": _calibration(confidence, outcome, multi_label, draws),
    }


def _calibration_inputs(
    truth: np.ndarray, predicted: np.ndarray, probs: np.ndarray, multi_label: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Single-label: the top label's probability against whether it is right; multi-label:
    every label's probability against whether the image has it (N, L)."""
    if multi_label:
        return probs, truth.astype(np.float64)
    right = (predicted & truth).any(axis=1)
    return probs.max(axis=1), right.astype(np.float64)


def _headline(
    truth: np.ndarray, predicted: np.ndarray, multi_label: bool, draws: Draws
) -> dict[str, Any]:
    n = len(truth)
    right = (truth == predicted).all(axis=1)
    accuracy = accuracy_score(truth, predicted) if multi_label else float(right.mean())
    y, pred = (truth, predicted) if multi_label else (truth.argmax(1), predicted.argmax(1))
    labels = None if multi_label else list(range(truth.shape[1]))
    macro = f1_score(y, pred, labels=labels, average="macro", zero_division=np.nan)
    micro = f1_score(y, pred, labels=labels, average="micro", zero_division=np.nan)
    return {
        "accuracy": figure(accuracy, n, wilson(int(right.sum()), n)),
        "macro_f1": draws.figure("macro_f1", macro),
        "micro_f1": draws.figure("micro_f1", micro),
    }


def _per_label(
    truth: np.ndarray,
    predicted: np.ndarray,
    label_ids: list[int],
    thresholds: list[float] | None,
    draws: Draws,
) -> list[dict[str, Any]]:
    n = len(truth)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, average=None, zero_division=np.nan
    )
    tp = (truth & predicted).sum(axis=0)
    called = predicted.sum(axis=0)
    rows = []
    for j, label in enumerate(label_ids):
        has, lacks = int(support[j]), n - int(support[j])
        rows.append(
            {
                "label": label,
                "support": has,
                "threshold": None if thresholds is None else float(thresholds[j]),
                "precision": figure(
                    precision[j],
                    int(called[j]),
                    wilson(int(tp[j]), int(called[j])),
                    None if called[j] else "The model gave this label to no test image.",
                ),
                "recall": figure(
                    recall[j],
                    has,
                    wilson(int(tp[j]), has),
                    None if has else "No test image has this label.",
                ),
                "f1": draws.figure(
                    ("f1", j),
                    f1[j],
                    None
                    if has or called[j]
                    else "No test image has this label, and the model gave it to none.",
                ),
                "roc_auc": draws.ranking_figure("roc_auc", j, has, lacks),
                "average_precision": draws.ranking_figure("average_precision", j, has, lacks),
            }
        )
    return rows


def _ranking_figures(
    truth: np.ndarray, probs: np.ndarray, label_ids: list[int], draws: Draws
) -> dict[str, Any]:
    """Per label ROC AUC and average precision (one-vs-rest), and their averages."""
    n = len(truth)
    ranked = [j for j in range(truth.shape[1]) if 0 < truth[:, j].sum() < n]
    out: dict[str, Any] = {}
    left_out = [label_ids[j] for j in range(truth.shape[1]) if j not in ranked]
    for key, score in (("roc_auc", roc_auc_score), ("average_precision", average_precision_score)):
        for j in ranked:
            draws.values[(key, j)] = float(score(truth[:, j], probs[:, j]))
        # The unweighted mean over the labels that have one (scikit-learn's "macro" on them).
        macro = np.mean([draws.values[(key, j)] for j in ranked]) if ranked else None
        micro_defined = 0 < truth.sum() < truth.size
        micro = score(truth.ravel(), probs.ravel()) if micro_defined else None
        out[key] = {
            "macro": draws.figure(
                f"{key}_macro",
                macro,
                None if ranked else "No label has test images both with and without it.",
            ),
            "micro": draws.figure(
                f"{key}_micro", micro, None if micro_defined else "No test image has any label."
            ),
            "averaged_over": [label_ids[j] for j in ranked],
            "left_out": left_out,
        }
    return out


def _confusion(
    y_true: Any,
    probs: np.ndarray,
    predicted: np.ndarray,
    label_ids: list[int],
    multi_label: bool,
    truth: np.ndarray,
) -> dict[str, Any]:
    if multi_label:
        per_label = multilabel_confusion_matrix(truth, predicted)  # [[tn, fp], [fn, tp]]
        return {"labels": list(label_ids), "per_label": per_label.reshape(-1, 4).tolist()}
    labels = list(range(len(label_ids)))
    matrix = confusion_matrix(np.asarray(y_true), probs.argmax(1), labels=labels)
    return {"labels": list(label_ids), "matrix": matrix.tolist()}


def _curves(truth: np.ndarray, probs: np.ndarray, label_ids: list[int]) -> dict[str, Any]:
    """Per label (those with test images with and without it), and micro- and
    macro-averaged: ROC, and precision-recall (micro only: no standard macro curve)."""
    n = len(truth)
    roc, pr, full = [], [], []
    for j, label in enumerate(label_ids):
        if 0 < truth[:, j].sum() < n:
            roc.append({"label": label, **curves.roc_points(truth[:, j], probs[:, j])})
            pr.append({"label": label, **curves.pr_points(truth[:, j], probs[:, j])})
            full.append(curves.full_roc(truth[:, j], probs[:, j]))
    averages: dict[str, Any] = {"micro_roc": None, "macro_roc": None, "micro_pr": None}
    if 0 < truth.sum() < truth.size:
        averages["micro_roc"] = curves.roc_points(truth.ravel(), probs.ravel())
        averages["micro_pr"] = curves.pr_points(truth.ravel(), probs.ravel())
    if full:
        averages["macro_roc"] = curves.macro_roc_points(full)
    return {"roc": roc, "pr": pr, **averages, "max_points": curves.CURVE_POINTS}


def _calibration(
    confidence: np.ndarray, outcome: np.ndarray, multi_label: bool, draws: Draws
) -> dict[str, Any]:
    bins = curves.calibration_bins(confidence.ravel(), outcome.ravel())
    return {
        "kind": "every label" if multi_label else "top label",
        "bins": bins,
        "ece": draws.figure("ece", curves.calibration_error(bins)),
    }
