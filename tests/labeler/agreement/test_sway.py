"""The sway figures: shares with and without a suggestion, wrong suggestions taken, and
their Wilson intervals, checked against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labeler.agreement.metrics.sway import NONE_WITHHELD, NONE_WRONG, proportion, sway_figures


def test_proportion_is_wilsons_interval():
    rng = np.random.default_rng(26)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        k = int(rng.integers(0, n + 1))
        figure = proportion(k, n, "none")
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert figure.value == pytest.approx(k / n)
        assert (figure.ci_low, figure.ci_high) == (pytest.approx(low), pytest.approx(high))
        assert figure.n_items == n
    empty = proportion(0, 0, "nothing to count")
    assert (empty.value, empty.reason, empty.n_items) == (None, "nothing to count", 0)


def test_figures_per_annotator_and_for_the_team():
    # annotator, shown, agrees with final, suggestion right, took the suggestion
    rows = [
        (0, True, True, True, True),
        (0, True, False, False, True),  # a wrong suggestion taken
        (0, True, True, False, False),  # a wrong suggestion resisted
        (0, False, True, True, False),
        (0, False, False, True, False),
        (1, True, True, True, True),
        (1, True, False, False, True),  # a wrong suggestion taken
    ]
    arrays = [np.array(column) for column in zip(*rows, strict=True)]
    team, (first, second) = sway_figures(*arrays)
    assert (first.annotator, second.annotator, team.annotator) == (0, 1, -1)
    assert first.agreement_shown.value == pytest.approx(2 / 3)
    assert first.agreement_shown.n_items == 3
    assert first.agreement_withheld.value == pytest.approx(1 / 2)
    assert first.difference == pytest.approx(2 / 3 - 1 / 2)
    assert (first.wrong_accepted.value, first.wrong_accepted.n_items) == (0.5, 2)
    assert second.agreement_withheld.reason == NONE_WITHHELD
    assert second.difference is None
    assert (second.wrong_accepted.value, second.wrong_accepted.n_items) == (1.0, 1)
    assert (team.agreement_shown.value, team.agreement_shown.n_items) == (pytest.approx(3 / 5), 5)
    assert (team.wrong_accepted.value, team.wrong_accepted.n_items) == (pytest.approx(2 / 3), 3)


def test_no_wrong_suggestion_says_so_and_bad_input_is_refused():
    team, _ = sway_figures(
        np.array([0]), np.array([True]), np.array([True]), np.array([True]), np.array([True])
    )
    assert team.wrong_accepted.reason == NONE_WRONG
    empty, each = sway_figures(*(np.zeros(0) for _ in range(5)))
    assert each == [] and empty.agreement_shown.value is None
    with pytest.raises(ValueError):
        sway_figures(np.zeros(2), np.zeros(3), np.zeros(2), np.zeros(2), np.zeros(2))
