"""The sway figures: shares with and without a suggestion, wrong suggestions taken, and
their Wilson intervals, checked against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labeler.agreement.metrics.sway import (
    NONE_SHOWN,
    NONE_WITHHELD,
    NONE_WRONG,
    proportion,
    sway_by_surface,
    sway_figures,
)


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


def test_figures_apart_for_single_images_and_grid_pages():
    """Each surface's figures are sway_figures over its labels alone; an annotator with no
    label on a surface is listed there with undefined figures."""
    # annotator, shown, agrees with final, suggestion right, took the suggestion, on a page
    rows = [
        (0, True, True, True, True, False),
        (0, False, False, True, False, False),
        (0, True, False, False, True, True),
        (0, True, False, False, True, True),
        (1, True, True, True, True, False),
    ]
    columns = [np.array(column) for column in zip(*rows, strict=True)]
    apart = sway_by_surface(*columns)
    grid_team, grid_each = apart["grid"]
    assert (grid_team.agreement_shown.value, grid_team.agreement_shown.n_items) == (0.0, 2)
    assert grid_team.wrong_accepted.value == 1.0
    assert grid_team.agreement_withheld.reason == NONE_WITHHELD
    assert [f.annotator for f in grid_each] == [0, 1]
    assert grid_each[1].agreement_shown.reason == NONE_SHOWN
    single_team, single_each = apart["single"]
    _, [expected] = sway_figures(*(column[:2] for column in columns[:5]))
    assert single_each[0] == expected
    assert single_team.agreement_shown.n_items == 2
    assert single_team.agreement_withheld.n_items == 1
    with pytest.raises(ValueError):
        sway_by_surface(*columns[:5], np.array([True]))
