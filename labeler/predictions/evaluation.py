"""How good a model is on held-out images, and which images are held out (pure numpy).

Single-label targets are label indices (N,) into ``label_ids``; multi-label targets are
multi-hot (N, L). Probabilities are (N, L) in the same label order.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np

from labeler.agreement.metrics.figures import wilson_bounds

ECE_BINS = 10
_EPS = 1e-7
_THRESHOLD_RANGE = (0.01, 0.99)


def classification_metrics(
    *,
    y_true: Any,
    probabilities: Any,
    label_ids: list[int],
    multi_label: bool,
    thresholds: list[float] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, calibration error, log loss, per-label figures and confusion."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] != len(label_ids):
        raise ValueError("probabilities must be (images, labels) with at least one image")
    if multi_label:
        return _multi_label_metrics(np.asarray(y_true) > 0, probs, label_ids, thresholds)
    return _single_label_metrics(np.asarray(y_true, dtype=np.int64), probs, label_ids)


def _single_label_metrics(y: np.ndarray, probs: np.ndarray, label_ids: list[int]) -> dict:
    n_labels = len(label_ids)
    predicted = probs.argmax(axis=1)
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(matrix, (y, predicted), 1)
    tp = np.diag(matrix)
    per_label = _per_label(label_ids, tp, matrix.sum(axis=0) - tp, matrix.sum(axis=1) - tp)
    present = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0  # as scikit-learn's macro average
    f1 = np.array([row["f1"] for row in per_label])
    confidence = probs.max(axis=1)
    picked = probs[np.arange(len(y)), y]
    return {
        "accuracy": float((predicted == y).mean()),
        "macro_f1": float(f1[present].mean()),
        "ece": expected_calibration_error(confidence, (predicted == y).astype(np.float64)),
        "loss": float(-np.log(np.clip(picked, _EPS, 1.0)).mean()),
        "per_label": per_label,
        "confusion": {"labels": list(label_ids), "matrix": matrix.tolist()},
        "images": len(y),
    }


def _multi_label_metrics(
    y: np.ndarray, probs: np.ndarray, label_ids: list[int], thresholds: list[float] | None
) -> dict:
    cut = np.full(len(label_ids), 0.5) if thresholds is None else np.asarray(thresholds, float)
    predicted = probs >= cut
    tp = (predicted & y).sum(axis=0)
    fp = (predicted & ~y).sum(axis=0)
    fn = (~predicted & y).sum(axis=0)
    tn = len(y) - tp - fp - fn
    per_label = _per_label(label_ids, tp, fp, fn)
    clipped = np.clip(probs, _EPS, 1 - _EPS)
    log_loss = -(y * np.log(clipped) + ~y * np.log(1 - clipped)).mean()
    # Calibration over every (image, label) decision: predicted p against the observed rate.
    ece = expected_calibration_error(probs.ravel(), y.ravel().astype(np.float64))
    return {
        "accuracy": float((predicted == y).all(axis=1).mean()),
        "macro_f1": float(np.mean([row["f1"] for row in per_label])),
        "ece": ece,
        "loss": float(log_loss),
        "per_label": per_label,
        "confusion": {
            "labels": list(label_ids),
            "per_label": np.stack([tn, fp, fn, tp], axis=1).tolist(),
        },
        "thresholds": {str(label): float(t) for label, t in zip(label_ids, cut, strict=True)},
        "images": len(y),
    }


def _per_label(
    label_ids: list[int], tp: np.ndarray, fp: np.ndarray, fn: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    for label, t, p, n in zip(label_ids, tp.tolist(), fp.tolist(), fn.tolist(), strict=True):
        precision = t / (t + p) if t + p else 0.0
        recall = t / (t + n) if t + n else 0.0
        f1 = 2 * t / (2 * t + p + n) if t + p + n else 0.0
        rows.append(
            {"label": label, "precision": precision, "recall": recall, "f1": f1, "support": t + n}
        )
    return rows


def correct_per_image(
    *, y_true: Any, probabilities: Any, multi_label: bool, thresholds: list[float] | None = None
) -> np.ndarray:
    """Whether each image's prediction is right: the top label, or every yes/no call
    (at the thresholds, 0.5 without them) for multi-label."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if not multi_label:
        return probs.argmax(axis=1) == np.asarray(y_true, dtype=np.int64)
    cut = np.asarray(thresholds if thresholds is not None else [0.5] * probs.shape[1])
    return ((probs >= cut) == (np.asarray(y_true) > 0)).all(axis=1)


def expected_calibration_error(confidence: np.ndarray, outcome: np.ndarray) -> float:
    """Weighted mean gap between confidence and outcome over 10 equal-width confidence bins,
    each closed on its right as ``sklearn.calibration.calibration_curve`` bins them."""
    confidence = np.asarray(confidence, dtype=np.float64)
    outcome = np.asarray(outcome, dtype=np.float64)
    bins = np.searchsorted(np.linspace(0.0, 1.0, ECE_BINS + 1)[1:-1], confidence)
    counts = np.bincount(bins, minlength=ECE_BINS)
    gap = np.bincount(bins, weights=confidence - outcome, minlength=ECE_BINS)
    return float(np.abs(gap).sum() / max(counts.sum(), 1))


def tune_thresholds(y_true: Any, probabilities: Any) -> list[float]:
    """Per label, the probability threshold that maximises F1 on these images.

    The threshold sits halfway between the lowest accepted and the highest rejected
    probability, kept within 0.01..0.99; a label with no positive image keeps 0.5.
    """
    y = np.asarray(y_true) > 0
    probs = np.asarray(probabilities, dtype=np.float64)
    return [_best_threshold(y[:, j], probs[:, j]) for j in range(probs.shape[1])]


def _best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    positives = int(y.sum())
    if positives == 0:
        return 0.5
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    # Only cut between distinct probabilities: tied images are accepted together.
    last_of_run = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last_of_run]
    accepted = np.flatnonzero(last_of_run) + 1
    f1 = 2 * tp / (accepted + positives)
    best = int(np.argmax(f1))
    cut_index = accepted[best] - 1
    lower = p_sorted[cut_index + 1] if cut_index + 1 < len(p_sorted) else 0.0
    threshold = (p_sorted[cut_index] + lower) / 2
    return float(np.clip(threshold, *_THRESHOLD_RANGE))


def split_stratified(
    image_ids: Sequence[int],
    targets: Sequence[Any],
    share: float,
    seed: int,
) -> tuple[list[int], list[int]]:
    """Split images into (train ids, validation ids), stably across runs.

    Images are grouped by their label (single-label: an int target; multi-label: a
    sequence of label ids, grouped by the rarest, or "none"). Within a group, images are
    ordered by a seeded hash of their id and the first ``share`` go to validation, at
    least one for a group of two or more, never the whole group.
    """
    if len(image_ids) != len(targets):
        raise ValueError("image_ids and targets must have the same length")
    keys = _group_keys(targets)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for image_id, key in zip(image_ids, keys, strict=True):
        groups[key].append(image_id)
    validation: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        wanted = min(max(1, round(share * len(members))), len(members) - 1)
        validation.update(sorted(members, key=lambda i: _rank(i, seed))[:wanted])
    train = [i for i in image_ids if i not in validation]
    return train, [i for i in image_ids if i in validation]


def _group_keys(targets: Sequence[Any]) -> list[Hashable]:
    if not any(isinstance(t, list | tuple | set | frozenset | np.ndarray) for t in targets):
        return [int(t) for t in targets]
    return rarest_label_keys(targets)


def rarest_label_keys(targets: Sequence[Any]) -> list[Hashable]:
    """What a multi-label split stratifies each image by: its rarest label among these
    images (the smaller id on a tie), or "none" for an image without labels."""
    label_sets = [[int(label) for label in t] for t in targets]
    counts: Counter[int] = Counter(label for t in label_sets for label in t)
    return [min(t, key=lambda label: (counts[label], label)) if t else "none" for t in label_sets]


def _rank(image_id: int, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}:{image_id}".encode()).digest()


# Intervals: 95%, the macro-F1 bootstrap with a fixed seed (the same figures give the same
# interval), in chunks of draws (``draw_weights``).
INTERVAL_LEVEL = 0.95
BOOTSTRAP_DRAWS = 1000
BOOTSTRAP_SEED = 0


def metric_intervals(
    *,
    y_true: Any,
    probabilities: Any,
    multi_label: bool,
    thresholds: list[float] | None = None,
    n_boot: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """95% intervals of accuracy and macro-F1 on these validation images.

    Accuracy is a share of images, so its interval is the Wilson score interval
    (``wilson_bounds``), good even near 0% or 100% and on a few images. Macro-F1 has no
    closed form: its interval is the percentile bootstrap over the images (``n_boot``
    draws of as many images, with replacement, seeded), macro-F1 computed on each draw as
    ``classification_metrics`` does.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    n_images = probs.shape[0]
    truth, predicted = indicators(y_true, probs, multi_label, thresholds)
    correct = int(
        correct_per_image(
            y_true=y_true, probabilities=probs, multi_label=multi_label, thresholds=thresholds
        ).sum()
    )
    accuracy_ci = wilson_bounds(correct, n_images, INTERVAL_LEVEL)
    values = _bootstrap_macro_f1(predicted, truth, multi_label, n_boot, seed)
    tail = (1 - INTERVAL_LEVEL) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return {
        "accuracy_ci": list(accuracy_ci),
        "macro_f1_ci": [float(low), float(high)],
        "interval_level": INTERVAL_LEVEL,
        "interval_methods": {
            "accuracy": "Wilson score interval",
            "macro_f1": f"percentile bootstrap over the images, {n_boot} draws, seed {seed}",
        },
    }


def _bootstrap_macro_f1(
    predicted: np.ndarray, truth: np.ndarray, multi_label: bool, n_boot: int, seed: int
) -> np.ndarray:
    """Macro-F1 on each of ``n_boot`` resamples of the images (rows)."""
    parts = [(predicted & truth), (predicted & ~truth), (~predicted & truth)]
    parts_f = [part.astype(np.float64) for part in parts]
    values = []
    for weights in draw_weights(len(predicted), n_boot, seed, cells=predicted.size):
        tp, fp, fn = (weights @ part for part in parts_f)
        f1 = f1_scores(tp, fp, fn)
        # Multi-label: a label with nothing to score counts 0, as in classification_metrics;
        # single-label: labels absent from the draw's truth and predictions do not count.
        values.append(np.nan_to_num(f1).mean(axis=1) if multi_label else nanmean_rows(f1))
    return np.concatenate(values)


def indicators(
    y_true: Any, probabilities: np.ndarray, multi_label: bool, thresholds: list[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(truth, predicted) as (N, L) true/false: one-vs-rest for single-label (the top label
    is the prediction), each label at its threshold (0.5 without) for multi-label."""
    n_labels = probabilities.shape[1]
    if multi_label:
        cut = np.full(n_labels, 0.5) if thresholds is None else np.asarray(thresholds, float)
        return np.asarray(y_true) > 0, probabilities >= cut
    labels = np.arange(n_labels)
    truth = np.asarray(y_true, dtype=np.int64)[:, None] == labels
    return truth, probabilities.argmax(axis=1)[:, None] == labels


def f1_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 from (weighted) counts, NaN where there is nothing to score (0 / 0)."""
    total = 2 * tp + fp + fn
    return np.divide(2 * tp, total, out=np.full_like(total, np.nan), where=total > 0)


def nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Each row's mean over its defined (finite) values; NaN for a row with none."""
    defined = np.isfinite(values)
    count = defined.sum(axis=1)
    total = np.where(defined, values, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(values), np.nan), where=count > 0)


# Bootstrap draws held at once: draws x images (x labels), so memory stays small on large
# sets of images.
_CELLS_PER_CHUNK = 4_000_000


def draw_weights(n: int, n_boot: int, seed: int, cells: int) -> Iterator[np.ndarray]:
    """The bootstrap's draws of ``n`` images with replacement, in chunks, each draw as how
    often it drew each image (a weighting: a tally over a draw is then one product). The
    same seed gives the same draws whatever the chunks; ``cells``: the size of what each
    draw is multiplied with, which sets how many draws a chunk holds."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, min(n_boot, _CELLS_PER_CHUNK // max(cells, 1)))
    for start in range(0, n_boot, per_chunk):
        draws = min(per_chunk, n_boot - start)
        rows = rng.integers(0, n, (draws, n))
        keys = (rows + np.arange(draws)[:, None] * n).ravel()
        yield np.bincount(keys, minlength=draws * n).reshape(draws, n).astype(np.float64)
