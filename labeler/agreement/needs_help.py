"""Which annotators may need help, flagged only on enough evidence.

An annotator is flagged "Needs help" for a figure only when that figure rests on enough
images and, for the shares (agreement with the consensus, accuracy on gold), when even the
top of its 95% Wilson interval falls below the acceptable level:

- ``kappa_with_others``: over at least ``MIN_SHARED_IMAGES`` images shared with other
  annotators, more than ``HELP_GAP`` below the median of the other annotators who have
  that many too (at least two of them).
- ``consensus_accuracy``: over at least ``MIN_SHARED_IMAGES`` images with a consensus
  or a tie (which counts as not agreeing; the reason says how many tied), the Wilson
  interval's upper end more than ``HELP_GAP`` below the others' median.
- ``gold_accuracy``: over at least ``MIN_GOLD_IMAGES`` gold images, the Wilson interval's
  upper end below ``GOLD_FLOOR``.

Why 20 shared images: on fewer, one image moves a share by 5 points or more and the 95%
interval of a share near 80% spans more than +/- 17 points, wider than the 15-point gap
the flag looks for, so a figure on fewer images cannot tell a struggling annotator from
an unlucky draw (the case that prompted the rule: kappa 0.00 with the others on a single
shared image, while 100% with the consensus and on gold). Gold images are chosen to be
unambiguous, and the interval itself guards against a small count, so 10 of them suffice.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from labeler.agreement.metrics.figures import wilson_bounds

MIN_SHARED_IMAGES = 20
MIN_GOLD_IMAGES = 10
HELP_GAP = 0.15
GOLD_FLOOR = 0.7
LEVEL = 0.95

# Below this many images a figure is shown with its n, and an over-time point is faded.
FEW_IMAGES = MIN_SHARED_IMAGES


def rules() -> dict[str, Any]:
    """The thresholds, as the report carries them for the page to explain."""
    return {
        "min_shared_images": MIN_SHARED_IMAGES,
        "min_gold_images": MIN_GOLD_IMAGES,
        "gap": HELP_GAP,
        "gold_floor": GOLD_FLOOR,
        "level": LEVEL,
        "few_images": FEW_IMAGES,
    }


def wilson_interval(share: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of a share observed over ``n`` items ((0, 1) for n = 0)."""
    if n <= 0:
        return 0.0, 1.0
    return wilson_bounds(min(n, max(0, round(share * n))), n, level)


def needs_help(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each annotator row of the report (``per_annotator``) with ``needs_help`` (the reasons,
    empty when none) and ``too_few_images`` (no figure had enough images to judge by)."""
    for row in rows:
        reasons = [
            *_below_others(row, rows, "kappa_with_others", "κ with others", _fixed, False),
            *_below_others(
                row, rows, "consensus_accuracy", "agrees with consensus", _percent, True
            ),
            *_poor_on_gold(row),
        ]
        judged = any(
            _value(row, key) is not None and _n(row, key) >= minimum
            for key, minimum in (
                ("kappa_with_others", MIN_SHARED_IMAGES),
                ("consensus_accuracy", MIN_SHARED_IMAGES),
                ("gold_accuracy", MIN_GOLD_IMAGES),
            )
        )
        row["needs_help"] = reasons
        row["too_few_images"] = not judged
    return rows


def _below_others(
    row: dict[str, Any],
    rows: list[dict[str, Any]],
    key: str,
    what: str,
    show: Callable[[float], str],
    interval: bool,
) -> list[str]:
    mine = _value(row, key)
    n = _n(row, key)
    if mine is None or n < MIN_SHARED_IMAGES:
        return []
    others = [
        value
        for other in rows
        if other is not row
        and (value := _value(other, key)) is not None
        and _n(other, key) >= MIN_SHARED_IMAGES
    ]
    if len(others) < 2:
        return []
    typical = statistics.median(others)
    top = wilson_interval(mine, n)[1] if interval else mine
    if top >= typical - HELP_GAP:
        return []
    told = f"{what} {show(mine)} on {n} images"
    ties = row.get("consensus_ties", 0) if key == "consensus_accuracy" else 0
    if ties:  # counted as not agreeing: say so, or a low share reads as wrong labels
        told += f" ({ties} of them tied)"
    if interval:
        told += f" (95% interval up to {show(top)})"
    return [f"{told}, others' median {show(typical)}"]


def _poor_on_gold(row: dict[str, Any]) -> list[str]:
    gold = _value(row, "gold_accuracy")
    n = _n(row, "gold_accuracy")
    if gold is None or n < MIN_GOLD_IMAGES:
        return []
    top = wilson_interval(gold, n)[1]
    if top >= GOLD_FLOOR:
        return []
    return [
        f"gold accuracy {_percent(gold)} on {n} gold images "
        f"(95% interval up to {_percent(top)}, under {_percent(GOLD_FLOOR)})"
    ]


def _value(row: dict[str, Any], key: str) -> float | None:
    value = row[key]["value"]
    return None if value is None else float(value)


def _n(row: dict[str, Any], key: str) -> int:
    return int(row[key]["n_items"] or 0)


def _fixed(value: float) -> str:
    return f"{value:.2f}"


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"
