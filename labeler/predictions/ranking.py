"""ROC AUC and average precision of one yes/no question under many weightings at once (pure).

A bootstrap draw of the test images is a weighting of them: how often each image was
drawn. Scoring each draw with scikit-learn (``roc_auc_score`` and
``average_precision_score`` with ``sample_weight``) costs a call per draw and label, a
minute for a thousand draws of ten labels on a few thousand images; sorting the scores
once and tallying every draw's weights per distinct score gives the same figures in a
few passes over the draws (the tests compare both, draw by draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranked:
    """Scores sorted once, highest first: ``columns``, which weight each sorted score takes
    (its row, or its image when an image holds several scores); each one's answer in that
    order; and the last position of each run of equal scores (a tie is one threshold)."""

    columns: np.ndarray
    positive: np.ndarray
    ends: np.ndarray | None  # None: no ties, every score its own threshold


def ranked(y: np.ndarray, scores: np.ndarray, image_of: np.ndarray | None = None) -> Ranked:
    """The answers ``y`` (true/false) ranked by ``scores``; ``image_of``: the image (weight
    column) of each score, where it is not the score's own row."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    ties = sorted_scores[1:] == sorted_scores[:-1]
    ends = np.r_[np.flatnonzero(~ties), len(order) - 1] if ties.any() else None
    columns = order if image_of is None else np.asarray(image_of)[order]
    return Ranked(columns=columns, positive=np.asarray(y, dtype=bool)[order], ends=ends)


def ranking_scores(r: Ranked, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each weighting's (row of ``weights``, one column per image) ROC AUC and average
    precision; NaN where a weighting leaves no positive (or, for the AUC, no negative).

    ROC AUC: the weighted chance that a positive outscores a negative, a tie counting half
    (the area under the ROC curve). Average precision: the precision at each threshold
    weighted by the recall it adds (scikit-learn's definition, not interpolated).
    """
    positive, negative = _tallies(r, np.asarray(weights, dtype=np.float64))
    true_positives = np.cumsum(positive, axis=1)
    false_positives = np.cumsum(negative, axis=1)
    total_positive, total_negative = true_positives[:, -1], false_positives[:, -1]
    below = total_negative[:, None] - false_positives  # negatives scored lower
    wins = (positive * (below + 0.5 * negative)).sum(axis=1)
    pairs = total_positive * total_negative
    auc = np.divide(wins, pairs, out=np.full_like(wins, np.nan), where=pairs > 0)
    called = true_positives + false_positives
    precision = np.divide(
        true_positives, called, out=np.zeros_like(true_positives), where=called > 0
    )
    added = (positive * precision).sum(axis=1)
    ap = np.divide(added, total_positive, out=np.full_like(added, np.nan), where=total_positive > 0)
    return auc, ap


def _tallies(r: Ranked, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per weighting and threshold, highest first: the weight of the positives and of the
    negatives scored there."""
    w = weights[:, r.columns]
    positive = w * r.positive
    if r.ends is None:
        return positive, w - positive
    # Sums over each run of tied scores, from running totals (exact: whole numbers).
    at_positive = np.cumsum(positive, axis=1)[:, r.ends]
    at_all = np.cumsum(w, axis=1)[:, r.ends]
    positive = np.diff(at_positive, axis=1, prepend=0.0)
    return positive, np.diff(at_all, axis=1, prepend=0.0) - positive
