"""The adaptive overlap benchmark: same labels for every arm, and its goal met."""

from __future__ import annotations

import numpy as np

from bench.adaptive_overlap import _labels_drawn, main
from labeler.demo.services import SIMULATED


def test_every_image_gets_each_annotator_once_in_a_fixed_random_order() -> None:
    truth, drawn = _labels_drawn(500, seed=4)
    again_truth, again = _labels_drawn(500, seed=4)
    assert np.array_equal(truth, again_truth) and np.array_equal(drawn, again)
    order, labels = drawn[:, :, 0], drawn[:, :, 1]
    assert all(sorted(row) == list(range(len(SIMULATED))) for row in order.tolist())
    # The careful annotator is right far more often than the sloppy one.
    right = labels == truth[:, None]
    careful, sloppy = (right[order == i].mean() for i in (0, len(SIMULATED) - 1))
    assert careful > 0.9 > 0.75 > sloppy


def test_adaptive_overlap_beats_fixed_overlap_3_with_fewer_labels(capsys) -> None:
    """The whole digits set, as `make bench-adaptive-overlap` runs it."""
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert "fixed overlap 3, Dawid-Skene" in printed
    assert ": met" in printed
