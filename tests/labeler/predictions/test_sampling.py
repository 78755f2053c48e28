"""Uncertainty scores per strategy and the queue order they give, with a random share."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.predictions.sampling import STRATEGIES, queue_order, uncertainty

SINGLE = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.6, 0.3, 0.1]])


def test_least_confidence_is_one_minus_the_top_probability():
    assert uncertainty(SINGLE, "least_confidence", False) == pytest.approx([0.1, 0.6, 0.4])


def test_margin_is_one_minus_the_gap_between_the_top_two():
    assert uncertainty(SINGLE, "margin", False) == pytest.approx([0.15, 0.95, 0.7])


def test_entropy_is_highest_for_the_flattest_row():
    scores = uncertainty(SINGLE, "entropy", False)
    assert list(np.argsort(-scores)) == [1, 2, 0]
    assert scores[0] == pytest.approx(-(0.9 * np.log(0.9) + 2 * 0.05 * np.log(0.05)))


def test_multi_label_scores_use_the_least_decisive_label():
    """Per label a yes/no call: 0.5 is the least decisive."""
    p = np.array([[0.9, 0.1], [0.55, 0.99], [0.3, 0.8]])
    assert uncertainty(p, "least_confidence", True) == pytest.approx([0.1, 0.45, 0.3])
    assert uncertainty(p, "margin", True) == pytest.approx([0.2, 0.9, 0.6])
    assert list(np.argsort(-uncertainty(p, "entropy", True))) == [2, 1, 0]  # sum over labels


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_copes_with_no_rows(strategy):
    assert uncertainty(np.empty((0, 3)), strategy, False).shape == (0,)


def test_random_scores_nothing_and_unknown_strategies_are_refused():
    assert not uncertainty(SINGLE, "random", False).any()
    with pytest.raises(ValueError, match="Unknown strategy"):
        uncertainty(SINGLE, "coin", False)


def test_queue_order_without_random_share_ranks_by_score():
    """Priorities N..1, most uncertain highest, ties in row order."""
    priorities = queue_order(np.array([0.2, 0.9, 0.5, 0.9]), 0.0, np.random.default_rng(0))
    assert list(priorities) == [1.0, 4.0, 2.0, 3.0]


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5])
def test_the_random_share_takes_evenly_spread_positions(share):
    """A share of positions, spread through the queue, go to randomly drawn rows."""
    n = 200
    scores = np.linspace(1, 0, n)  # row i is the i-th most uncertain
    priorities = queue_order(scores, share, np.random.default_rng(1))
    sequence = np.argsort(-priorities)
    assert sorted(sequence) == list(range(n))  # a permutation: every row once
    assert any(row != position for position, row in enumerate(sequence))
    # Rows not drawn at random keep their relative order.
    positions = np.arange(n)
    random_slots = np.floor((positions + 1) * share) > np.floor(positions * share)
    assert random_slots.sum() == round(share * n)
    kept = sequence[~random_slots]
    assert list(kept) == sorted(kept)


def test_a_random_share_of_one_is_a_shuffle():
    priorities = queue_order(np.arange(50.0), 1.0, np.random.default_rng(2))
    assert sorted(priorities) == list(range(1, 51))
    assert list(np.argsort(-priorities)) != list(range(49, -1, -1))


def test_queue_order_of_nothing_is_empty():
    assert queue_order(np.empty(0), 0.1, np.random.default_rng(0)).shape == (0,)
