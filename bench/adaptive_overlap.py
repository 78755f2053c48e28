"""Adaptive overlap against fixed overlap 3: final-label accuracy and labels per image.

    .venv/bin/python bench/adaptive_overlap.py          # or: make bench-adaptive-overlap
    .venv/bin/python bench/adaptive_overlap.py --images 5000 --seed 3

The scikit-learn digits (1,797 images, their true digits known) are labelled by the demo's
simulated annotators (``labeler.demo.services.SIMULATED``: from 97 % right down to 62 %,
a wrong label usually the digit's look-alike). Every image gets its annotators in a
random order and each annotator's label of it is drawn once, so every arm sees the same
images, the same annotators and the same labels; an arm only decides how many of them it
asks for. Fixed overlap 3 takes the first three, decided by majority vote and by
Dawid-Skene (and, to show what the third label buys, fixed overlap 2 by Dawid-Skene);
adaptive overlap takes two, then more, one at a time and at most
``--maximum``, while ``labeler.annotations.adaptive.adaptive_decision`` (the function the
submit path calls) asks for them. Its annotators' accuracies are estimated as the product
does (``labeler.annotations.reliability``): agreement with the final labels so far, refreshed every
``--refresh`` images, as the background consensus refresh would. Final labels of the
adaptive arm come from Dawid-Skene over all its labels.

The goal: accuracy at least fixed-overlap-3 Dawid-Skene's with at most 0.8x its labels.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOAL_ACCURACY_RATIO = 1.0
GOAL_LABELS_RATIO = 0.8


@dataclass(frozen=True)
class Arm:
    """One way of deciding how many labels each image gets, and its result."""

    name: str
    accuracy: float
    labels_per_image: float
    seconds: float


def main(argv: list[str] | None = None) -> int:
    """Run every arm on the same labels and print the table with the ratios."""
    options = _options(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    import django

    django.setup()  # the decision module sits beside the models; no database is used
    truth, drawn = _labels_drawn(options.images, options.seed)
    arms = [
        _fixed(truth, drawn, "majority"),
        _fixed(truth, drawn, "dawid_skene"),
        _fixed(truth, drawn, "dawid_skene", per_image=2),
        _adaptive(truth, drawn, options),
    ]
    _print_table(arms, options)
    reference, adaptive = arms[1], arms[-1]
    accuracy_ratio = adaptive.accuracy / reference.accuracy
    labels_ratio = adaptive.labels_per_image / reference.labels_per_image
    met = accuracy_ratio >= GOAL_ACCURACY_RATIO and labels_ratio <= GOAL_LABELS_RATIO
    print(
        f"\nadaptive / fixed-3 Dawid-Skene: accuracy {accuracy_ratio:.4f}x "
        f"(goal >= {GOAL_ACCURACY_RATIO:.1f}x), labels {labels_ratio:.3f}x "
        f"(goal <= {GOAL_LABELS_RATIO:.1f}x): {'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


def _labels_drawn(n_images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True digits, and ``drawn[i, j]``: the label of image i by its j-th annotator, as
    ``(annotator index, label)`` pairs in the order they come to it."""
    from sklearn.datasets import load_digits

    from labeler.demo.services import LOOK_ALIKE, SIMULATED

    rng = np.random.default_rng(seed)
    targets = load_digits().target
    truth = targets[rng.integers(0, len(targets), n_images)] if n_images else targets
    accuracy = np.array(list(SIMULATED.values()))
    n_annotators = len(accuracy)
    order = np.argsort(rng.random((len(truth), n_annotators)), axis=1)
    wrong = rng.random(order.shape) >= accuracy[order]
    look_alike = np.array([LOOK_ALIKE[d] for d in range(10)])[truth][:, None]
    # A wrong label is the look-alike 70 % of the time, else another digit at random.
    other = (truth[:, None] + rng.integers(1, 10, order.shape)) % 10
    mistake = np.where(rng.random(order.shape) < 0.7, look_alike, other)
    labels = np.where(wrong, mistake, truth[:, None])
    return truth, np.stack([order, labels], axis=2)


def _codes(drawn: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The ``(images, annotators)`` codes matrix of the first ``taken[i]`` labels of each image."""
    n_images, n_annotators, _ = drawn.shape
    codes = np.full((n_images, n_annotators), -1, dtype=np.int64)
    for position in range(n_annotators):
        rows = np.flatnonzero(taken > position)
        codes[rows, drawn[rows, position, 0]] = drawn[rows, position, 1]
    return codes


def _fixed(truth: np.ndarray, drawn: np.ndarray, method: str, per_image: int = 3) -> Arm:
    from labeler.agreement.consensus import consensus

    started = time.perf_counter()
    taken = np.full(len(truth), per_image)
    decided = consensus(_codes(drawn, taken), 10, method).labels
    return Arm(
        f"fixed overlap {per_image}, {'majority vote' if method == 'majority' else 'Dawid-Skene'}",
        float(np.mean(decided == truth)),
        float(taken.mean()),
        time.perf_counter() - started,
    )


def _adaptive(truth: np.ndarray, drawn: np.ndarray, options: argparse.Namespace) -> Arm:
    from labeler.agreement.consensus import dawid_skene
    from labeler.annotations.adaptive import accuracy_estimate, adaptive_decision

    started = time.perf_counter()
    n_images, n_annotators, _ = drawn.shape
    maximum = min(options.maximum, n_annotators)
    taken = np.zeros(n_images, dtype=np.int64)
    accuracies = np.full(n_annotators, accuracy_estimate(0, 0))
    for start in range(0, n_images, options.refresh):
        for image in range(start, min(start + options.refresh, n_images)):
            needed = options.overlap
            while True:
                taken[image] = needed
                votes = [
                    (int(drawn[image, j, 1]), float(accuracies[drawn[image, j, 0]]))
                    for j in range(needed)
                ]
                decision = adaptive_decision(
                    votes, k=10, threshold=options.threshold, needed=needed, maximum=maximum
                )
                if not decision.more:
                    break
                needed += 1
        done = start + options.refresh
        accuracies = _accuracies(drawn[:done], taken[:done])
    codes = _codes(drawn, taken)
    decided = dawid_skene(codes, 10).labels
    return Arm(
        f"adaptive {options.overlap}..{maximum} at {options.threshold}, Dawid-Skene",
        float(np.mean(decided == truth)),
        float(taken.mean()),
        time.perf_counter() - started,
    )


def _accuracies(drawn: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Each annotator's accuracy as the product estimates it: agreement with the final
    labels (Dawid-Skene) of the images labelled so far, with the prior."""
    from labeler.agreement.consensus import dawid_skene
    from labeler.annotations.adaptive import accuracy_estimate

    codes = _codes(drawn, taken)
    final = dawid_skene(codes, 10).labels
    rated = codes >= 0
    agreed = ((codes == final[:, None]) & rated).sum(axis=0)
    checked = rated.sum(axis=0)
    return np.array(
        [accuracy_estimate(int(a), int(c)) for a, c in zip(agreed, checked, strict=True)]
    )


def _print_table(arms: list[Arm], options: argparse.Namespace) -> None:
    print(
        f"{options.images or 1797} digits, seed {options.seed}, the demo's 5 simulated "
        "annotators (97, 93, 87, 80, 62 % right)\n"
    )
    print(f"{'arm':<44} {'accuracy':>9} {'labels/image':>13} {'seconds':>8}")
    for arm in arms:
        print(
            f"{arm.name:<44} {arm.accuracy:>9.4f} {arm.labels_per_image:>13.3f} {arm.seconds:>8.2f}"
        )


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Adaptive against fixed overlap 3.")
    parser.add_argument("--images", type=int, default=0, help="images (default: all 1797)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--overlap", type=int, default=2, help="annotators first (2)")
    parser.add_argument("--maximum", type=int, default=5, help="annotators at most (5)")
    parser.add_argument("--threshold", type=float, default=0.95, help="adaptive confidence (0.95)")
    parser.add_argument(
        "--refresh", type=int, default=100, help="images between accuracy estimates (100)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
