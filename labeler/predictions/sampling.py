"""Active learning: how uncertain the model is about each image, and the queue order it gives.

Pure functions over probability arrays (rows: images, columns: labels); the service
layer reads the predictions and writes the priorities.
"""

from __future__ import annotations

import numpy as np

STRATEGIES = ("random", "least_confidence", "margin", "entropy")
EPSILON = 1e-12


def uncertainty(probabilities: np.ndarray, strategy: str, multi_label: bool) -> np.ndarray:
    """One score per row, higher meaning the model is less sure (0 for every row when random).

    Single-label rows are distributions over the labels: least confidence is
    ``1 - max p``, margin is ``1 - (p1 - p2)`` of the two most probable labels, entropy
    is ``-sum p log p``. Multi-label rows hold one yes/no probability per label: least
    confidence is ``1 - min max(p, 1 - p)`` (the least decisive call, as the suggestion's
    confidence), margin ``1 - min |2p - 1|``, entropy the sum of the binary entropies.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}.")
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 2:
        raise ValueError("probabilities must be a 2-d array (images x labels).")
    if strategy == "random" or p.shape[0] == 0 or p.shape[1] == 0:
        return np.zeros(p.shape[0])
    p = np.clip(p, 0.0, 1.0)
    if multi_label:
        return _multi_label(p, strategy)
    if strategy == "least_confidence":
        return 1.0 - p.max(axis=1)
    if strategy == "margin":
        if p.shape[1] == 1:
            return 1.0 - p[:, 0]
        top2 = -np.sort(-p, axis=1)[:, :2]
        return 1.0 - (top2[:, 0] - top2[:, 1])
    return -(p * np.log(p + EPSILON)).sum(axis=1)


def _multi_label(p: np.ndarray, strategy: str) -> np.ndarray:
    if strategy == "least_confidence":
        return 1.0 - np.maximum(p, 1.0 - p).min(axis=1)
    if strategy == "margin":
        return 1.0 - np.abs(2.0 * p - 1.0).min(axis=1)
    q = 1.0 - p
    return -(p * np.log(p + EPSILON) + q * np.log(q + EPSILON)).sum(axis=1)


def queue_order(scores: np.ndarray, random_share: float, rng: np.random.Generator) -> np.ndarray:
    """Priorities (higher first, N down to 1) ranking rows by score, most uncertain first.

    A ``random_share`` of the positions, spread evenly through the queue, go to rows
    drawn at random from all rows, so the model also sees images it is sure about (and
    may be wrong on); the other positions follow the ranking. Ties keep row order.
    """
    scores = np.asarray(scores, dtype=float)
    n = scores.shape[0]
    share = min(max(float(random_share), 0.0), 1.0)
    positions = np.arange(n)
    # Position i is random where the running count of random slots steps up.
    is_random = np.floor((positions + 1) * share) > np.floor(positions * share)
    drawn = rng.choice(n, size=int(is_random.sum()), replace=False)
    taken = np.zeros(n, dtype=bool)
    taken[drawn] = True
    ranked = np.argsort(-scores, kind="stable")
    sequence = np.empty(n, dtype=np.int64)
    sequence[is_random] = drawn
    sequence[~is_random] = ranked[~taken[ranked]]
    priorities = np.empty(n, dtype=float)
    priorities[sequence] = np.arange(n, 0, -1, dtype=float)
    return priorities
