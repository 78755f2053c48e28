"""Consensus from several annotators: majority vote, Dawid-Skene EM and multi-label majority.

Pure array functions, so no database: hand-made cases, and a simulated crowd whose truth
is known for Dawid-Skene.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from labeler.agreement.consensus import (
    DAWID_SKENE,
    MAJORITY,
    Consensus,
    DawidSkeneResult,
    consensus,
    dawid_skene,
    majority_vote,
    multi_label_majority,
)

X = -1  # not rated

ACCURACIES = (0.95, 0.9, 0.8, 0.6, 0.35)
CLASS_SHARES = (0.4, 0.3, 0.2, 0.1)


def simulated_crowd(
    seed: int = 7, n_items: int = 2000
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Truth and codes from five annotators of known accuracy; errors uniform over the rest."""
    rng = np.random.default_rng(seed)
    k = len(CLASS_SHARES)
    truth = rng.choice(k, size=n_items, p=CLASS_SHARES)
    correct = rng.random((n_items, len(ACCURACIES))) < np.asarray(ACCURACIES)
    wrong = (truth[:, None] + rng.integers(1, k, size=correct.shape)) % k
    return truth, np.where(correct, truth[:, None], wrong)


@pytest.fixture(scope="module")
def crowd() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], DawidSkeneResult]:
    truth, codes = simulated_crowd()
    return truth, codes, dawid_skene(codes, len(CLASS_SHARES))


# Majority vote


def test_majority_picks_the_most_frequent_category_with_its_share():
    """The label is the most given category; confidence is its share of the item's votes."""
    result = majority_vote([[0, 0, 1], [2, 2, 2], [3, 1, 1]], k=4)
    assert result.labels.tolist() == [0, 2, 1]
    np.testing.assert_allclose(result.confidence, [2 / 3, 1.0, 2 / 3])
    assert result.needs_review.tolist() == [False, False, False]
    assert result.method == MAJORITY


def test_majority_counts_only_the_annotators_who_rated_the_item():
    """Not-rated cells are no votes: shares are over the item's own raters."""
    result = majority_vote([[0, X, X, 1, 0], [X, X, 2, X, X]], k=3)
    assert result.labels.tolist() == [0, 2]
    np.testing.assert_allclose(result.confidence, [2 / 3, 1.0])


@pytest.mark.parametrize(
    ("row", "share"),
    [([0, 1], 0.5), ([0, 0, 1, 1, 2], 0.4), ([2, 1, 0], 1 / 3), ([1, X, 0, X], 0.5)],
)
def test_majority_tie_for_first_place_goes_to_review(row, share):
    """A tie for first place gives no label and needs review; confidence is the tied share."""
    result = majority_vote([row], k=3)
    assert result.labels.tolist() == [-1]
    assert result.needs_review.tolist() == [True]
    np.testing.assert_allclose(result.confidence, [share])


def test_majority_tie_below_first_place_is_no_tie():
    """Only a tie for the top counts: a clear winner with tied runners-up is decided."""
    result = majority_vote([[0, 0, 1, 2]], k=3)
    assert result.labels.tolist() == [0]
    assert result.needs_review.tolist() == [False]


def test_majority_unrated_item_has_no_label_no_confidence_and_no_review():
    """An item nobody rated: label -1, confidence nan, not sent to review."""
    result = majority_vote([[X, X, X], [1, X, X]], k=2)
    assert result.labels.tolist() == [-1, 1]
    assert np.isnan(result.confidence[0])
    assert result.confidence[1] == 1.0
    assert result.needs_review.tolist() == [False, False]


def test_majority_returns_typed_arrays_and_handles_no_items():
    """Labels are int64, confidence float64, needs_review bool; zero items give empty arrays."""
    result = majority_vote(np.zeros((0, 3), dtype=np.int64), k=2)
    assert result.labels.dtype == np.int64 and result.labels.shape == (0,)
    assert result.confidence.dtype == np.float64
    assert result.needs_review.dtype == np.bool_


def test_majority_with_no_categories_leaves_everything_undecided():
    """A project without labels (k = 0) has only unrated items."""
    result = majority_vote([[X, X]], k=0)
    assert result.labels.tolist() == [-1]
    assert result.needs_review.tolist() == [False]


@pytest.mark.parametrize(
    ("codes", "k", "message"),
    [
        ([[0, 3]], 3, "codes must lie in -1..2"),
        ([[0, -2]], 3, "codes must lie in -1..2"),
        ([0, 1], 2, "2-D"),
        ([[0.0, 1.0]], 2, "integers"),
        ([[0]], -1, "k must be"),
    ],
)
def test_majority_rejects_malformed_codes(codes, k, message):
    """Out-of-range categories, wrong shapes, non-integers and negative k are refused."""
    with pytest.raises(ValueError, match=message):
        majority_vote(codes, k)


# Dawid-Skene


def test_dawid_skene_is_more_accurate_than_majority_vote(crowd):
    """On a crowd with one near-random annotator, EM beats majority vote against the truth,
    even when majority's ties are credited as if broken at random."""
    truth, codes, result = crowd
    majority = majority_vote(codes, k=4)
    counts = np.stack([(codes == c).sum(axis=1) for c in range(4)], axis=1)
    tied_top = counts == counts.max(axis=1, keepdims=True)
    fair_majority = (tied_top[np.arange(len(truth)), truth] / tied_top.sum(axis=1)).mean()
    ds_accuracy = (result.labels == truth).mean()
    assert ds_accuracy > fair_majority > (majority.labels == truth).mean()
    assert ds_accuracy > 0.96


def test_dawid_skene_confusion_diagonals_rank_the_annotators(crowd):
    """The estimated accuracy of each annotator (prior-weighted confusion diagonal) ranks
    them as their true accuracies do, and lies near them."""
    _, _, result = crowd
    diagonals = np.einsum("acc->ac", result.confusion)
    estimated = diagonals @ result.priors
    assert np.argsort(-estimated).tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(estimated, ACCURACIES, atol=0.05)
    np.testing.assert_allclose(result.priors, CLASS_SHARES, atol=0.03)


def test_dawid_skene_returns_distributions(crowd):
    """Posteriors, priors and confusion rows each sum to 1; labels are the argmax posterior
    and confidence the max posterior; nothing needs review."""
    _, codes, result = crowd
    n_items, n_annotators = codes.shape
    assert result.posteriors.shape == (n_items, 4)
    assert result.confusion.shape == (n_annotators, 4, 4)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    np.testing.assert_allclose(result.priors.sum(), 1.0)
    assert (result.labels == result.posteriors.argmax(axis=1)).all()
    np.testing.assert_array_equal(result.confidence, result.posteriors.max(axis=1))
    assert not result.needs_review.any()
    assert result.method == DAWID_SKENE
    assert 1 <= result.iterations < 50


def test_dawid_skene_agrees_with_majority_on_unanimous_items(crowd):
    """Where every annotator gave the same category, EM keeps it."""
    _, codes, result = crowd
    unanimous = (codes == codes[:, :1]).all(axis=1)
    assert unanimous.sum() > 100
    np.testing.assert_array_equal(result.labels[unanimous], codes[unanimous, 0])


def test_dawid_skene_is_deterministic():
    """The same input gives bit-for-bit the same result."""
    _, codes = simulated_crowd(seed=3, n_items=500)
    first, second = dawid_skene(codes, 4), dawid_skene(codes.copy(), 4)
    np.testing.assert_array_equal(first.posteriors, second.posteriors)
    np.testing.assert_array_equal(first.confusion, second.confusion)
    assert first.iterations == second.iterations


def test_dawid_skene_handles_single_ratings_and_idle_annotators():
    """Items with one rating get that rating; an annotator who rated nothing keeps uniform
    confusion rows and changes nothing."""
    codes = np.array([[0, 0, X], [1, 1, X], [2, 2, X], [0, X, X], [X, 2, X], [1, 1, X]])
    result = dawid_skene(codes, 3)
    assert result.labels.tolist() == [0, 1, 2, 0, 2, 1]
    assert np.isfinite(result.posteriors).all() and np.isfinite(result.confusion).all()
    np.testing.assert_allclose(result.confusion[2], np.full((3, 3), 1 / 3))
    without_idle = dawid_skene(codes[:, :2], 3)
    np.testing.assert_allclose(result.posteriors, without_idle.posteriors)
    np.testing.assert_allclose(result.confusion[:2], without_idle.confusion)


def test_dawid_skene_ignores_items_nobody_rated():
    """Unrated items get label -1, nan confidence and posteriors, no review, and leave the
    estimates for the other items as they were."""
    _, codes = simulated_crowd(seed=5, n_items=300)
    padded = np.vstack([codes, np.full((50, codes.shape[1]), X)])
    alone, with_unrated = dawid_skene(codes, 4), dawid_skene(padded, 4)
    np.testing.assert_allclose(with_unrated.priors, alone.priors)
    np.testing.assert_allclose(with_unrated.confusion, alone.confusion)
    np.testing.assert_allclose(with_unrated.posteriors[:300], alone.posteriors)
    assert (with_unrated.labels[300:] == -1).all()
    assert np.isnan(with_unrated.confidence[300:]).all()
    assert np.isnan(with_unrated.posteriors[300:]).all()
    assert not with_unrated.needs_review.any()


def test_dawid_skene_with_no_ratings_at_all_estimates_uniformly():
    """Nothing rated: every item undecided, uniform priors and confusion, no EM rounds."""
    result = dawid_skene(np.full((3, 2), X), 2)
    assert result.labels.tolist() == [-1, -1, -1]
    np.testing.assert_allclose(result.priors, [0.5, 0.5])
    np.testing.assert_allclose(result.confusion, np.full((2, 2, 2), 0.5))
    assert result.iterations == 0


def test_dawid_skene_stops_at_the_iteration_cap():
    """max_iter bounds the EM rounds run."""
    _, codes = simulated_crowd(seed=1, n_items=200)
    assert dawid_skene(codes, 4, max_iter=2).iterations == 2


def textbook_dawid_skene(
    codes: npt.NDArray[np.int64],
    k: int,
    max_iter: int = 50,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int]:
    """Dawid and Skene's EM written out on dense arrays, each item's posterior normalised
    with scipy's logsumexp: posteriors (nan rows for unrated items), confusion, priors,
    rounds. The same start (vote shares), smoothing and stopping rule as the product's."""
    from scipy.special import logsumexp

    n_items, n_annotators = codes.shape
    given = np.zeros((n_items, n_annotators, k))
    items, annotators = np.nonzero(codes >= 0)
    given[items, annotators, codes[items, annotators]] = 1.0
    rated = (codes >= 0).any(axis=1)
    votes = given.sum(axis=1)
    soft = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1)

    def m_step(soft):
        mass = soft.sum(axis=0) + smoothing
        counts = np.einsum("ic,ial->acl", soft, given) + smoothing
        return mass / mass.sum(), counts / counts.sum(axis=2, keepdims=True)

    priors, confusion = m_step(soft)
    log_lik, rounds = -np.inf, 0
    while True:
        joint = np.log(priors) + np.einsum("ial,acl->ic", given, np.log(confusion))
        evidence = logsumexp(joint, axis=1)
        soft = np.where(rated[:, None], np.exp(joint - evidence[:, None]), 0.0)
        new_log_lik = evidence[rated].sum()
        rounds += 1
        if rounds == max_iter or abs(new_log_lik - log_lik) <= tol * abs(new_log_lik):
            break
        log_lik = new_log_lik
        priors, confusion = m_step(soft)
    soft[~rated] = np.nan
    return soft, confusion, priors, rounds


@pytest.mark.parametrize("seed", range(6))
def test_dawid_skene_gives_the_textbook_em(seed):
    """Random crowds (unrated items, idle annotators, one category or several) and, in
    half of them, an item that dozens of sharp annotators split on, whose likelihoods
    are too small to sum as they are: the same posteriors, confusion, priors and rounds
    as the EM written out on dense arrays."""
    rng = np.random.default_rng(seed)
    n_items, n_annotators, k = 400, int(rng.integers(2, 40)), int(rng.integers(1, 6))
    codes = np.where(
        rng.random((n_items, n_annotators)) < rng.uniform(0.1, 0.9),
        rng.integers(0, k, (n_items, n_annotators)),
        X,
    )
    codes[:5] = X
    codes[:, -1] = X
    smoothing = 0.01
    if seed % 2:  # 120 say 0 and 120 say 1: either class's likelihood is under e^-745
        n_items, n_annotators, k, smoothing = 4000, 240, 2, 1e-9
        truth = rng.integers(0, k, n_items)
        codes = np.repeat(truth[:, None], n_annotators, axis=1)
        codes[0] = np.repeat([0, 1], n_annotators // 2)
    result = dawid_skene(codes, k, smoothing=smoothing)
    posteriors, confusion, priors, rounds = textbook_dawid_skene(codes, k, smoothing=smoothing)
    assert result.iterations == rounds
    np.testing.assert_allclose(result.posteriors, posteriors, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.confusion, confusion, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(result.priors, priors, rtol=1e-12)
    assert (
        result.labels.tolist()
        == np.where(
            np.isnan(posteriors[:, 0]), X, np.nan_to_num(posteriors).argmax(axis=1)
        ).tolist()
    )


def test_dawid_skene_never_takes_log_of_zero():
    """Categories nobody ever gave leave no zero cells behind (smoothing), so no warnings."""
    with np.errstate(all="raise"):
        result = dawid_skene([[0, 0], [0, 0], [1, 1]], 4)
    assert (result.confusion > 0).all() and (result.priors > 0).all()
    assert result.labels.tolist() == [0, 0, 1]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_iter": 0}, "max_iter"), ({"tol": -1.0}, "tol"), ({"smoothing": 0.0}, "smoothing")],
)
def test_dawid_skene_rejects_bad_settings(options, message):
    """The iteration cap must be at least 1, the tolerance non-negative, smoothing positive."""
    with pytest.raises(ValueError, match=message):
        dawid_skene([[0, 1]], 2, **options)


# Dispatch


def test_consensus_dispatches_by_method_name():
    """'majority' runs majority vote; 'dawid_skene' runs EM and keeps its extra fields."""
    codes = [[0, 0, 1], [1, 1, 1]]
    majority = consensus(codes, 2, "majority")
    assert type(majority) is Consensus and majority.labels.tolist() == [0, 1]
    em = consensus(codes, 2, "dawid_skene")
    assert isinstance(em, DawidSkeneResult) and em.method == DAWID_SKENE


def test_consensus_rejects_unknown_methods_naming_the_choices():
    """An unknown method is a ValueError that lists the methods there are."""
    with pytest.raises(ValueError, match=r"'mean'.*'majority', 'dawid_skene'"):
        consensus([[0]], 1, "mean")


# Multi-label majority


def test_multi_label_majority_decides_each_label_by_majority():
    """Each label applies when most raters gave it; confidence is the mean winning share."""
    label_sets = [
        [[1, 0, 1], [1, 0, 0], [1, 1, 0]],
    ]
    result = multi_label_majority(label_sets)
    assert result.labels.tolist() == [[1, 0, 0]]
    np.testing.assert_allclose(result.confidence, [(1 + 2 / 3 + 2 / 3) / 3])
    assert result.needs_review.tolist() == [False]


def test_multi_label_majority_tie_on_a_label_goes_to_review():
    """A tied label is left undecided (-1) and the item needs review; others are decided."""
    result = multi_label_majority([[[1, 1, 0], [0, 1, 0]]])
    assert result.labels.tolist() == [[-1, 1, 0]]
    assert result.needs_review.tolist() == [True]
    np.testing.assert_allclose(result.confidence, [(0.5 + 1 + 1) / 3])


def test_multi_label_majority_ignores_not_rated_rows_and_unrated_items():
    """-1 rows are not votes; an item nobody rated is undecided, nan, and not for review."""
    label_sets = np.array(
        [
            [[1, 0], [X, X], [1, 1]],
            [[X, X], [X, X], [X, X]],
        ],
        dtype=np.int8,
    )
    result = multi_label_majority(label_sets)
    assert result.labels.tolist() == [[1, -1], [-1, -1]]
    assert result.needs_review.tolist() == [True, False]
    assert result.confidence[0] == pytest.approx(0.75)
    assert np.isnan(result.confidence[1])


@pytest.mark.parametrize(
    ("label_sets", "message"),
    [
        ([[[1, X]]], "every label"),
        ([[[2, 0]]], "0, 1, or -1"),
        ([[1, 0]], "3-D"),
    ],
)
def test_multi_label_majority_rejects_malformed_label_sets(label_sets, message):
    """Half-rated rows, values other than 0/1/-1 and wrong shapes are refused."""
    with pytest.raises(ValueError, match=message):
        multi_label_majority(label_sets)
