"""Which images an export's file holds: sorted runs of ids, kept on its row.

An erasure must find every stored file that holds an image it erases; an export lists its
images when it is written (``runs_of``) and is asked with ``runs_hold``. Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

Runs = list[list[int]]


def runs_of(ids: Iterable[int]) -> Runs:
    """The ids as sorted, disjoint ``[first, last]`` runs of consecutive ids."""
    runs: Runs = []
    for value in sorted(set(ids)):
        if runs and runs[-1][1] == value - 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return runs


def runs_hold(runs: Sequence[Sequence[int]], ids: Iterable[int]) -> list[int]:
    """The ids among ``ids`` that the runs hold, sorted."""
    firsts = [run[0] for run in runs]
    held = []
    for value in sorted(set(ids)):
        at = bisect_right(firsts, value) - 1
        if at >= 0 and runs[at][0] <= value <= runs[at][1]:
            held.append(value)
    return held
