"""Ranking final labels by confident learning: our verdict is cleanlab's own."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.predictions.label_check import label_issues_rank

# cleanlab comes with the "ml" extra: without it there is nothing to compare with.
find_label_issues = pytest.importorskip("cleanlab.filter").find_label_issues
get_label_quality_scores = pytest.importorskip("cleanlab.rank").get_label_quality_scores


def noisy_probabilities(seed: int, n: int = 400, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities peaked on a true label, and given labels 10 % of which are wrong."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += 3.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    given = truth.copy()
    wrong = rng.choice(n, n // 10, replace=False)
    given[wrong] = (truth[wrong] + rng.integers(1, k, len(wrong))) % k
    return given, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_ranking_is_cleanlabs_on_the_same_probabilities(seed):
    given, p = noisy_probabilities(seed)
    ranking = label_issues_rank(given, p)
    assert np.array_equal(ranking.flagged, find_label_issues(given, p, n_jobs=1))
    assert np.allclose(ranking.quality, get_label_quality_scores(given, p))
    assert 0 < ranking.flagged.sum() < len(given)


def test_a_label_nobody_was_given_is_left_out_before_ranking():
    """A fifth column no row carries: the verdict is cleanlab's on the four others."""
    given, p = noisy_probabilities(3)
    wider = np.hstack([p * 0.98, np.full((len(p), 1), 0.02)])
    ranking = label_issues_rank(given, wider)
    assert np.array_equal(ranking.flagged, find_label_issues(given, p, n_jobs=1))
    assert np.allclose(ranking.quality, get_label_quality_scores(given, p))


def test_one_label_flags_nothing_and_nothing_ranks_empty():
    ranking = label_issues_rank(np.zeros(5, dtype=int), np.tile([0.3, 0.7], (5, 1)))
    assert not ranking.flagged.any() and len(ranking.quality) == 5
    assert len(label_issues_rank(np.zeros(0, dtype=int), np.zeros((0, 3))).flagged) == 0


def noisy_label_sets(seed: int, n: int = 300, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot label sets with each label's probability peaked on the truth, and 8 % of
    the sets with one label wrongly added or dropped."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, k)) < 0.35).astype(np.int64)
    p = np.clip(np.where(truth == 1, 0.85, 0.12) + rng.normal(0, 0.07, (n, k)), 0.01, 0.99)
    given = truth.copy()
    wrong = rng.choice(n, n * 8 // 100, replace=False)
    given[wrong, rng.integers(0, k, len(wrong))] ^= 1
    return given, p


@pytest.mark.parametrize("seed", [0, 1])
def test_a_multi_label_ranking_is_cleanlabs_multi_label_one(seed):
    multilabel = pytest.importorskip("cleanlab.multilabel_classification")
    multilabel_issues = multilabel.filter.find_label_issues
    multilabel_scores = multilabel.rank.get_label_quality_scores
    given, p = noisy_label_sets(seed)
    sets = [np.flatnonzero(row).tolist() for row in given]
    ranking = label_issues_rank(given, p)
    assert np.array_equal(ranking.flagged, multilabel_issues(sets, p, n_jobs=1))
    assert np.allclose(ranking.quality, multilabel_scores(sets, p))
    assert 0 < ranking.flagged.sum() < len(given)


def test_label_sets_of_another_shape_than_the_probabilities_are_refused():
    with pytest.raises(ValueError, match="One probability row"):
        label_issues_rank(np.zeros((4, 3)), np.zeros((4, 2)))
