"""An export's list of images as runs of ids: compact, and asked exactly."""

from __future__ import annotations

from labeler.exports.manifest import runs_hold, runs_of


def test_ids_become_sorted_runs():
    assert runs_of([5, 1, 2, 3, 9, 10, 3]) == [[1, 3], [5, 5], [9, 10]]
    assert runs_of([]) == []
    assert len(runs_of(range(1, 1_000_001))) == 1


def test_runs_hold_exactly_their_ids():
    runs = runs_of([1, 2, 3, 5, 9, 10])
    assert runs_hold(runs, [0, 1, 4, 5, 8, 10, 11]) == [1, 5, 10]
    assert runs_hold([], [1]) == []
