"""Fleiss' kappa of a subset of the images with its linearised standard error."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.agreement import metrics
from labeler.agreement.metrics.linearised import (
    fleiss_kappa_within,
    fleiss_terms,
    fleiss_terms_stacked,
)
from labeler.agreement.metrics.multi_rater import fleiss_kappa_values
from tests.labeler.agreement.test_metrics import noisy_codes

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.mark.parametrize("k", [2, 3, 12, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_kappa_of_a_subset_is_fleiss_kappa_of_its_rows(seed: int, k: int) -> None:
    """Inside and outside a random subset, the value and n are fleiss_kappa's on those rows."""
    codes = noisy_codes(seed, 400, 5, k, missing=0.5)
    chosen = np.random.default_rng(seed).random(400) < 0.3
    terms = fleiss_terms(codes, k)
    for mask in (chosen, ~chosen):
        found = fleiss_kappa_within(terms, mask).figure
        expected = metrics.fleiss_kappa(codes[mask], k)
        assert found.value == pytest.approx(expected.value, abs=1e-12)
        assert found.n_items == expected.n_items


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_standard_error_is_the_bootstrap_spread(seed: int) -> None:
    """Over 500 images the linearised error is within 10% of 2,000 bootstrap draws' spread,
    and the interval is kappa +- 1.96 errors."""
    codes = noisy_codes(seed, 500, 4, 3, missing=0.3)
    estimate = fleiss_kappa_within(fleiss_terms(codes, 3), np.ones(500, dtype=bool))
    draws = np.random.default_rng(seed).integers(0, 500, (2000, 500))
    values = fleiss_kappa_values(metrics.draw_sums(codes, 3, draws))
    assert estimate.std_error == pytest.approx(np.std(values), rel=0.1)
    figure = estimate.figure
    assert figure.ci_low == pytest.approx(figure.value - 1.959964 * estimate.std_error)
    assert figure.ci_high == pytest.approx(figure.value + 1.959964 * estimate.std_error)


def test_stacked_label_decisions_are_clustered_by_image() -> None:
    """Multi-label: pooled yes/no rows, n counting images, and an error that is the spread
    of a bootstrap drawing images (all their decisions together), within 10%."""
    rng = np.random.default_rng(3)
    # Images differ in how hard all their labels are, so one image's decisions go together.
    hard = rng.random(300) < 0.3
    truth = rng.random((300, 4)) < 0.4
    accuracy = np.where(hard, 0.6, 0.97)[:, None, None]
    sets = np.where(rng.random((300, 3, 4)) < accuracy, truth[:, None, :], ~truth[:, None, :])
    sets = sets.astype(np.int8)
    sets[:, 2, :][rng.random(300) < 0.5] = -1  # a third annotator on half of them
    matrices = metrics.binary_matrices(sets)
    chosen = np.zeros(300, dtype=bool)
    chosen[:200] = True
    found = fleiss_kappa_within(fleiss_terms_stacked(matrices, 2), np.tile(chosen, 4))
    pooled = np.concatenate([m[chosen] for m in matrices])
    assert found.figure.value == pytest.approx(metrics.fleiss_kappa(pooled, 2).value)
    assert found.figure.n_items == 200
    # Each draw takes 200 of the images, with replacement, and every decision on each.
    images = rng.integers(0, 200, (2000, 200))
    draws = np.concatenate([images + label * 300 for label in range(4)], axis=1)
    values = fleiss_kappa_values(metrics.draw_sums(np.concatenate(matrices), 2, draws))
    assert found.std_error == pytest.approx(np.std(values), rel=0.1)


def test_undefined_subsets_say_why() -> None:
    """No pairable image, or one category throughout: no value, no error, a reason."""
    codes = np.array([[0, 0], [0, 0], [1, -1], [1, 1]])
    terms = fleiss_terms(codes, 2)
    one_category = fleiss_kappa_within(terms, np.array([True, True, False, False]))
    assert one_category.figure.value is None and "same category" in one_category.figure.reason
    assert one_category.std_error is None
    alone = fleiss_kappa_within(terms, np.array([False, False, True, False]))
    assert alone.figure.value is None and alone.figure.n_items == 0
    with pytest.raises(ValueError, match="one entry per row"):
        fleiss_kappa_within(terms, np.ones(3, dtype=bool))
