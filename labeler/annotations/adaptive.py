"""Adaptive overlap: a third opinion (and more) only where the first ones leave doubt.

An image of a project in adaptive mode first asks for ``overlap`` annotators. When the
last of them submits, the labels so far are weighed: each annotator's vote counts by how
often their labels agreed with final labels before (a one-coin model: an annotator gives
the true label with probability ``p``, any other with ``(1 - p) / (k - 1)``), and the
image asks for one more annotator while no label wins outright or the winner's posterior
probability is below the project's ``adaptive_confidence``, up to ``overlap_max``.

The weighing is a pure function (``adaptive_decision``), which the submit path and the
benchmark (``bench/adaptive_overlap.py``) both call; ``labeler.annotations.reliability``
reads the annotators' past agreement with final labels from the database.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

# Before an annotator's labels have been checked against final labels, their accuracy
# is taken as PRIOR_ACCURACY, worth PRIOR_WEIGHT labels; their own record outweighs it soon.
PRIOR_ACCURACY = 0.8
PRIOR_WEIGHT = 4.0
# No annotator is taken as certain, nor as worse than chance.
MAX_ACCURACY = 0.99


@dataclass(frozen=True)
class AdaptiveDecision:
    """What the labels of an image so far say: the leading label, its posterior
    probability, and whether one more annotator is asked for."""

    leader: Hashable | None
    confidence: float
    more: bool


def adaptive_decision(
    votes: Sequence[tuple[Hashable, float]],
    *,
    k: int,
    threshold: float,
    needed: int,
    maximum: int,
) -> AdaptiveDecision:
    """Weigh ``votes`` (label, annotator's accuracy) among ``k`` categories.

    ``needed`` is how many annotators the image asks for now; it asks for one more
    (``more``) when every one of them has labelled it, fewer than ``maximum`` have, and
    either the top label is tied or its posterior is below ``threshold``.
    """
    if not votes:
        return AdaptiveDecision(None, math.nan, False)
    k = max(k, len({label for label, _ in votes}), 2)
    floor = 1.0 / k
    # Log-likelihood of each given label being the true one; the categories no one gave
    # share one value, as each of them is every annotator's mistake.
    logs: dict[Hashable, float] = {}
    unseen = 0.0
    for _, accuracy in votes:
        p = min(max(accuracy, floor), MAX_ACCURACY)
        unseen += math.log((1 - p) / (k - 1))
    for label in {label for label, _ in votes}:
        total = 0.0
        for given, accuracy in votes:
            p = min(max(accuracy, floor), MAX_ACCURACY)
            total += math.log(p) if given == label else math.log((1 - p) / (k - 1))
        logs[label] = total
    peak = max(max(logs.values()), unseen)
    weights = {label: math.exp(value - peak) for label, value in logs.items()}
    evidence = sum(weights.values()) + (k - len(logs)) * math.exp(unseen - peak)
    ranked = sorted(weights.items(), key=lambda item: item[1], reverse=True)
    leader, top = ranked[0]
    tied = len(ranked) > 1 and math.isclose(ranked[1][1], top, rel_tol=1e-9)
    counts = Counter(label for label, _ in votes).most_common(2)
    split = len(counts) > 1 and counts[0][1] == counts[1][1]
    confidence = top / evidence
    doubtful = tied or split or confidence < threshold
    more = len(votes) >= needed and len(votes) < maximum and doubtful
    return AdaptiveDecision(None if tied else leader, confidence, more)


def accuracy_estimate(agreed: int, checked: int) -> float:
    """An annotator's accuracy from how many of ``checked`` labels matched final labels."""
    return (agreed + PRIOR_ACCURACY * PRIOR_WEIGHT) / (checked + PRIOR_WEIGHT)
