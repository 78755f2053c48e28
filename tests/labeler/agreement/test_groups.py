"""Figures of many groups of images at once equal the figures of each group on its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from labeler.agreement import metrics
from labeler.agreement.metrics import pairwise
from labeler.agreement.metrics.counts import TIED

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

TIGHT = 1e-12


def crowd(seed: int, n_items: int, n_annotators: int, k: int) -> np.ndarray:
    """Ratings copying a hidden category 70% of the time, about half of them missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    codes = np.where(
        rng.random((n_items, n_annotators)) < 0.7,
        truth[:, None],
        rng.integers(0, k, (n_items, n_annotators)),
    )
    codes[rng.random(codes.shape) < 0.5] = -1
    return codes


def same(first: metrics.Figure, second: metrics.Figure) -> bool:
    if first.value is None or second.value is None:
        return first == second
    return first.n_items == second.n_items and abs(first.value - second.value) <= TIGHT


@pytest.mark.parametrize("k", [2, 4, 40])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_figures_of_each_group_match_the_group_alone(seed: int, k: int) -> None:
    """Fleiss, alpha and raw agreement by group_sums equal the metrics on the group's rows."""
    codes = crowd(seed, 300, 5, k)
    groups = np.random.default_rng(seed).integers(-1, 6, len(codes))
    sums = metrics.group_sums(codes, k, groups, 7)  # group 6 is empty
    pairs = [
        (metrics.fleiss_kappa_of, metrics.fleiss_kappa),
        (metrics.krippendorff_alpha_of, metrics.krippendorff_alpha),
        (metrics.percent_agreement_of, metrics.percent_agreement),
    ]
    for by_group, alone in pairs:
        figures = by_group(sums)
        for group in range(7):
            assert same(figures[group], alone(codes[groups == group], k)), (alone, group)
    assert figures[6].value is None and figures[6].n_items == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cohen_kappa_matrices_match_each_group_alone(seed: int) -> None:
    """Counts, kappas and agreement of every group, one pass or group by group."""
    codes = crowd(seed, 250, 6, 3)
    groups = np.random.default_rng(seed).integers(-1, 4, len(codes))
    by_group = metrics.cohen_kappa_matrices(codes, 3, groups, 5)
    for group in range(5):
        alone = metrics.cohen_kappa_matrix(codes[groups == group], 3)
        np.testing.assert_array_equal(by_group[group].n_items, alone.n_items)
        np.testing.assert_allclose(by_group[group].kappa, alone.kappa, atol=TIGHT)
        np.testing.assert_allclose(by_group[group].agreement, alone.agreement, atol=TIGHT)
        assert by_group[group].n_shared_items == alone.n_shared_items


def test_grouped_pair_counts_are_the_pair_counts_of_each_group() -> None:
    """Integer counts are exactly those of pair_counts, including rows of every width."""
    codes = crowd(5, 400, 7, 4)
    codes[:50] = np.random.default_rng(1).integers(0, 4, (50, 7))  # every annotator
    groups = np.random.default_rng(2).integers(0, 3, len(codes))
    for group, counts in enumerate(pairwise.grouped_pair_counts(codes, 4, groups, 3)):
        alone = pairwise.pair_counts(codes[groups == group], 4)
        for name in ("shared", "agreeing", "chance"):
            np.testing.assert_array_equal(getattr(counts, name), getattr(alone, name))


@pytest.mark.parametrize("joint_cells", [pairwise.JOINT_CELLS, 0])
def test_pair_counts_with_groups_are_the_whole_and_each_groups(
    joint_cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One pass gives pair_counts of every image (spread sums too, images outside every
    group included) and each group's; with tables too large, each is counted on its own."""
    monkeypatch.setattr(pairwise, "JOINT_CELLS", joint_cells)
    codes = crowd(6, 500, 6, 4)
    codes[:40] = np.random.default_rng(3).integers(0, 4, (40, 6))  # every annotator
    codes[40:60, 1:] = -1  # rated once
    groups = np.random.default_rng(4).integers(-1, 3, len(codes))
    whole, by_group = pairwise.pair_counts_with_groups(codes, 4, groups, 3)
    expected = pairwise.pair_counts(codes, 4)
    for name in ("shared", "agreeing", "chance"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(expected, name))
    assert whole.spread is not None and expected.spread is not None
    for name in ("diagonal", "margins", "crossed"):
        np.testing.assert_allclose(
            getattr(whole.spread, name), getattr(expected.spread, name), rtol=TIGHT
        )
    for group, counts in enumerate(by_group):
        alone = pairwise.pair_counts(codes[groups == group], 4)
        for name in ("shared", "agreeing", "chance"):
            np.testing.assert_array_equal(getattr(counts, name), getattr(alone, name))


def test_pair_counts_with_groups_of_no_annotator_are_empty() -> None:
    whole, (group,) = pairwise.pair_counts_with_groups(
        np.zeros((3, 0), np.int64), 2, np.zeros(3, np.int64), 1
    )
    assert whole.shared.shape == group.shared.shape == (0, 0)


def test_annotator_figures_take_the_pair_counts_counted_already() -> None:
    """Counts passed in give the same matrix and figures as counts made inside."""
    codes = crowd(7, 300, 5, 3)
    consensus = np.where(codes.max(axis=1) == 0, TIED, codes.max(axis=1))
    gold = np.where(np.arange(len(codes)) % 4 == 0, codes.max(axis=1), -1)
    whole, _ = pairwise.pair_counts_with_groups(codes, 3, np.zeros(len(codes), np.int64), 1)
    given = metrics.annotator_figures(codes, 3, consensus, gold, whole)
    counted = metrics.annotator_figures(codes, 3, consensus, gold)
    np.testing.assert_allclose(given[0].kappa, counted[0].kappa, atol=TIGHT)
    np.testing.assert_allclose(given[0].std_error, counted[0].std_error, atol=TIGHT)
    assert given[1] == counted[1]


@pytest.mark.parametrize("seed", [0, 1])
def test_pairs_by_group_match_per_annotator_and_the_kappa_matrix(seed: int) -> None:
    """Agreement with the others and with a reference, per group, as per_annotator gives them."""
    codes = crowd(seed, 300, 5, 3)
    reference = np.where(
        np.random.default_rng(seed).random(len(codes)) < 0.8, codes.max(axis=1), -1
    )
    groups = np.random.default_rng(seed + 9).integers(-1, 3, len(codes))
    by_group = metrics.pairs_by_group(codes, 3, reference, groups, 3)
    for group in range(3):
        rows = groups == group
        matrix = metrics.cohen_kappa_matrix(codes[rows], 3)
        np.testing.assert_allclose(by_group[group].matrix.kappa, matrix.kappa, atol=TIGHT)
        assert by_group[group].matrix.n_shared_items == matrix.n_shared_items
        alone = metrics.per_annotator(codes[rows], 3, reference[rows])
        for column, figures in enumerate(alone):
            raw = by_group[group].annotators[column]
            assert raw.n_rated == figures.n_rated
            assert same(raw.with_others, figures.agreement_with_others)
            assert same(raw.with_reference, figures.consensus_accuracy)


def test_annotator_figures_give_the_matrix_and_the_per_annotator_figures() -> None:
    """One count of pairs serves cohen_kappa_matrix and per_annotator alike."""
    codes = crowd(4, 200, 5, 3)
    consensus = codes.max(axis=1)
    matrix, figures = metrics.annotator_figures(codes, 3, consensus)
    alone = metrics.cohen_kappa_matrix(codes, 3)
    np.testing.assert_array_equal(matrix.n_items, alone.n_items)
    np.testing.assert_allclose(matrix.kappa, alone.kappa, atol=TIGHT)
    assert matrix.n_shared_items == alone.n_shared_items
    assert figures == metrics.per_annotator(codes, 3, consensus)


def test_category_counts_counted_once_give_what_each_counts_itself() -> None:
    """The tallies, the confusion matrix, the bootstrap interval and the groups' sums read
    shared counts and terms."""
    codes = crowd(8, 400, 6, 4)
    counts = metrics.dense_counts(codes, 4)
    assert counts is not None
    shared_tallies, own = metrics.tally(codes, 4, counts), metrics.tally(codes, 4)
    for field in dataclasses.fields(metrics.Tallies):
        np.testing.assert_array_equal(getattr(shared_tallies, field.name), getattr(own, field.name))
    np.testing.assert_array_equal(
        metrics.confusion_matrix(codes, 4, counts), metrics.confusion_matrix(codes, 4)
    )
    figure = metrics.fleiss_kappa(codes, 4)
    terms = metrics.terms_of(codes, 4, counts)
    shared = metrics.with_ci(figure, metrics.fleiss_kappa, codes, 4, terms=terms)
    assert shared == metrics.with_ci(figure, metrics.fleiss_kappa, codes, 4)
    assert shared.ci_low is not None
    groups = np.random.default_rng(9).integers(-1, 3, len(codes))
    given = metrics.group_sums(codes, 4, groups, 3, terms)
    made = metrics.group_sums(codes, 4, groups, 3)
    for field in dataclasses.fields(metrics.GroupSums):
        np.testing.assert_array_equal(getattr(given, field.name), getattr(made, field.name))
    assert metrics.dense_counts(codes, 40) is None  # many categories: counted sparsely
