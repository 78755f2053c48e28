"""Time a version's test scorecard, and its bootstrap of ROC AUC and average precision
against scikit-learn's weighted functions called once per draw.

    make bench-scorecard
    .venv/bin/python bench/scorecard.py --sizes 2000x10 --draws 200

For each size (test images x labels) it makes seeded single-label probabilities, then
times ``labeler.predictions.scorecard.scorecard`` whole (1,000 bootstrap draws, every
figure), and the bootstrap's areas alone: ``ranking.ranking_scores`` over every label for
``--draws`` draws, beside the reference, ``roc_auc_score`` and
``average_precision_score`` with ``sample_weight``, per label and draw, on the same
draws (the largest difference between the two is printed: they must agree).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import timed
from labeler.predictions import ranking
from labeler.predictions.evaluation import draw_weights
from labeler.predictions.scorecard import scorecard


def probabilities(n: int, labels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a fair model's probabilities, rounded to 3 decimals (ties, as models give)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, labels, n)
    p = rng.random((n, labels))
    p[np.arange(n), y] += rng.random(n)
    return y, np.round(p / p.sum(axis=1, keepdims=True), 3)


def areas_ours(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = []
    for j in range(p.shape[1]):
        auc, ap = ranking.ranking_scores(ranking.ranked(y == j, p[:, j]), weights)
        out.append(np.stack([auc, ap]))
    return np.stack(out)


def areas_sklearn(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> np.ndarray:
    from sklearn.metrics import average_precision_score, roc_auc_score

    out = np.empty((p.shape[1], 2, len(weights)))
    for j in range(p.shape[1]):
        for k, w in enumerate(weights):
            out[j, 0, k] = roc_auc_score(y == j, p[:, j], sample_weight=w)
            out[j, 1, k] = average_precision_score(y == j, p[:, j], sample_weight=w)
    return out


def _row(size: str, n_draws: int, repeat: int) -> str:
    """One size's line of the table."""
    n, labels = (int(part) for part in size.split("x"))
    y, p = probabilities(n, labels)
    card_s, card = timed(
        lambda: scorecard(
            y_true=y, probabilities=p, label_ids=list(range(labels)), multi_label=False
        ),
        repeat,
    )
    weights = next(draw_weights(n, n_draws, 0, cells=1))
    ours_s, ours = timed(lambda: areas_ours(y, p, weights), repeat)
    theirs_s, theirs = timed(lambda: areas_sklearn(y, p, weights), 1)
    diff = float(np.nanmax(np.abs(ours - theirs)))
    draws = card["interval_methods"]["others"].split(", ")[1]
    return (
        f"{size:>16} {card_s:>12.2f} {n_draws:>6} {ours_s:>13.3f} {theirs_s:>10.2f} "
        f"{theirs_s / ours_s:>13.1f} {diff:>9.1e}   (scorecard: {draws})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["300x4", "2000x10", "5000x10"])
    parser.add_argument("--draws", type=int, default=100, help="draws timed against sklearn")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args(argv)
    print(
        f"{'images x labels':>16} {'scorecard s':>12} {'draws':>6} {'areas ours s':>13} "
        f"{'sklearn s':>10} {'sklearn/ours':>13} {'max diff':>9}"
    )
    for size in options.sizes:
        print(_row(size, options.draws, options.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
