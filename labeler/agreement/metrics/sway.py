"""How much the model's suggestions sway annotators: pure functions over per-label arrays.

Each entry is one annotator's label of one image that has a final label and on which the
model had a suggestion, either shown or held back on purpose (the project's
``suggestion_holdback``: a random share, so the two groups are alike but for the
suggestion). Compared are the share of labels that agree with the final label with and
without the suggestion shown, and, among shown suggestions that were wrong (not the final
label), the share the annotator took as it was: automation bias, measured.

Each share is a ``Figure`` with its number of labels and a 95% Wilson score interval
(``figures.wilson_bounds``), which stays inside [0, 1] and keeps its coverage for the
small counts one annotator has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from labeler.agreement.metrics.figures import Figure, undefined, wilson_bounds

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]

NONE_SHOWN = "no label was given with a suggestion shown"
NONE_WITHHELD = "no label was given with the suggestion held back"
NONE_WRONG = "no wrong suggestion was shown"


@dataclass(frozen=True)
class SwayFigures:
    """One group's figures (an annotator, or the team with ``annotator`` -1).

    ``agreement_shown`` and ``agreement_withheld`` are the shares of labels equal to the
    final label with the suggestion shown and held back; ``difference`` is the first minus
    the second; ``wrong_accepted`` is the share of wrong shown suggestions taken as shown.
    """

    annotator: int
    agreement_shown: Figure
    agreement_withheld: Figure
    difference: float | None
    wrong_accepted: Figure


def proportion(successes: int, n: int, reason: str) -> Figure:
    """``successes / n`` with its 95% Wilson score interval; undefined (``reason``) at n=0."""
    if n == 0:
        return undefined(reason, 0)
    low, high = wilson_bounds(successes, n)
    return Figure(value=successes / n, reason=None, n_items=int(n), ci_low=low, ci_high=high)


def sway_figures(
    annotators: Ints,
    shown: Bools,
    agrees: Bools,
    suggestion_right: Bools,
    took_suggestion: Bools,
) -> tuple[SwayFigures, list[SwayFigures]]:
    """The team's figures and each annotator's (ascending by annotator code).

    One entry per label: the annotator's code, whether the suggestion was shown (else it
    was held back), whether the label equals the final label, whether the suggestion equals
    the final label, and whether the label equals the suggestion. The last two are read
    only where ``shown``.
    """
    arrays = [np.asarray(a) for a in (annotators, shown, agrees, suggestion_right, took_suggestion)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError("sway_figures takes five one-dimensional arrays of one length")
    who, shown_, agrees_, right, took = (
        arrays[0].astype(np.int64),
        *(a.astype(bool) for a in arrays[1:]),
    )
    team = _group(-1, shown_, agrees_, right, took)
    each = [
        _group(int(code), *(a[who == code] for a in (shown_, agrees_, right, took)))
        for code in np.unique(who)
    ]
    return team, each


SURFACES = ("single", "grid")  # one image at a time, a grid page of them


def sway_by_surface(
    annotators: Ints,
    shown: Bools,
    agrees: Bools,
    suggestion_right: Bools,
    took_suggestion: Bools,
    grid: Bools,
) -> dict[str, tuple[SwayFigures, list[SwayFigures]]]:
    """``sway_figures`` apart for labels given one image at a time (``"single"``) and on
    grid pages (``"grid"``, where ``grid``): a page of thumbnails may sway annotators more,
    or less, than one image. Every annotator of the arrays is in both lists (ascending),
    with undefined figures on a surface they gave no label on."""
    on_grid = np.asarray(grid).astype(bool)
    arrays = [np.asarray(a) for a in (annotators, shown, agrees, suggestion_right, took_suggestion)]
    if on_grid.shape != arrays[0].shape:
        raise ValueError("sway_by_surface takes six one-dimensional arrays of one length")
    who = arrays[0].astype(np.int64)
    codes = np.unique(who)
    figures = {}
    for surface, mask in zip(SURFACES, (~on_grid, on_grid), strict=True):
        team, each = sway_figures(*(a[mask] for a in arrays))
        found = {f.annotator: f for f in each}
        empty = np.zeros(0, dtype=bool)
        figures[surface] = (
            team,
            [found.get(int(code)) or _group(int(code), *[empty] * 4) for code in codes],
        )
    return figures


def _group(code: int, shown: Bools, agrees: Bools, right: Bools, took: Bools) -> SwayFigures:
    withheld = ~shown
    wrong = shown & ~right
    with_shown = proportion(int(np.sum(agrees & shown)), int(np.sum(shown)), NONE_SHOWN)
    without = proportion(int(np.sum(agrees & withheld)), int(np.sum(withheld)), NONE_WITHHELD)
    difference = (
        None
        if with_shown.value is None or without.value is None
        else with_shown.value - without.value
    )
    return SwayFigures(
        annotator=code,
        agreement_shown=with_shown,
        agreement_withheld=without,
        difference=difference,
        wrong_accepted=proportion(int(np.sum(wrong & took)), int(np.sum(wrong)), NONE_WRONG),
    )
