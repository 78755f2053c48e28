"""The asymptotic 95% interval of every pairwise Cohen's kappa, against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from statsmodels.stats.inter_rater import cohens_kappa

from labeler.agreement import metrics
from tests.labeler.agreement.test_metrics import noisy_codes

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

TIGHT = 1e-9


@pytest.mark.parametrize("k", [2, 3, 7, 40])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_pair_interval_matches_statsmodels_on_the_shared_images(seed: int, k: int) -> None:
    """Each pair's interval is statsmodels' kappa_low, kappa_upp on its contingency table."""
    codes = noisy_codes(seed, 300, 6, k, missing=0.5)
    checked = 0
    for i, j, figure in metrics.cohen_kappa_matrix(codes, k).pairs():
        both = (codes[:, i] >= 0) & (codes[:, j] >= 0)
        table = confusion_matrix(codes[both, i], codes[both, j], labels=np.arange(k))
        expected = cohens_kappa(table)
        assert figure.value == pytest.approx(expected.kappa, abs=TIGHT)
        assert figure.ci_low == pytest.approx(max(-1.0, expected.kappa_low), abs=TIGHT)
        assert figure.ci_high == pytest.approx(min(1.0, expected.kappa_upp), abs=TIGHT)
        checked += 1
    assert checked == 15


def test_the_report_matrix_carries_the_same_intervals_as_cohen_kappa_matrix() -> None:
    """annotator_figures (with consensus and gold columns) gives the same pair figures."""
    codes = noisy_codes(4, 200, 5, 4, missing=0.3)
    reference = codes.max(axis=1)
    matrix, _ = metrics.annotator_figures(codes, 4, reference, reference)
    assert matrix.pairs() == metrics.cohen_kappa_matrix(codes, 4).pairs()


def test_an_undefined_kappa_or_a_single_shared_image_has_no_interval() -> None:
    """No interval without a kappa, nor from one shared image (its variance is 0)."""
    codes = np.array(
        [
            [0, 0, 1, -1],
            [0, 0, -1, -1],
            [0, 0, -1, 0],
        ]
    )
    matrix = metrics.cohen_kappa_matrix(codes, 2)
    same_category = matrix.figure(0, 1)
    assert same_category.value is None
    assert same_category.ci_low is None and same_category.ci_high is None
    one_image = matrix.figure(0, 2)
    assert one_image.value == 0.0 and one_image.n_items == 1
    assert one_image.ci_low is None and one_image.ci_high is None
    no_image = matrix.figure(2, 3)
    assert no_image.value is None and no_image.ci_low is None


def test_perfect_agreement_on_many_images_has_a_zero_width_interval_at_one() -> None:
    """Kappa 1 has a standard error of 0, so its interval is the point 1 (as statsmodels)."""
    column = np.arange(40) % 3
    figure = metrics.cohen_kappa_matrix(np.stack([column, column], axis=1), 3).figure(0, 1)
    assert (figure.value, figure.ci_low, figure.ci_high) == (1.0, 1.0, 1.0)


def test_few_shared_images_give_a_wider_interval_than_many() -> None:
    """The same 12 ratings repeated 50 times give the same kappa, a sqrt(50) narrower interval."""
    block = np.array([[0, 0], [1, 1], [2, 2], [0, 1], [1, 2], [2, 2]] * 2)
    codes = np.full((600, 4), -1)
    codes[:, :2] = np.tile(block, (50, 1))  # annotators 0 and 1 share 600 images
    codes[:12, 2:] = block  # annotators 2 and 3 share 12
    matrix = metrics.cohen_kappa_matrix(codes, 3)
    many, few = matrix.figure(0, 1), matrix.figure(2, 3)
    assert (many.n_items, few.n_items) == (600, 12)
    assert many.value == pytest.approx(few.value)
    assert many.value is not None and many.ci_low is not None and many.ci_high is not None
    assert few.ci_low is not None and few.ci_high is not None
    assert few.ci_high - few.ci_low == pytest.approx(np.sqrt(50) * (many.ci_high - many.ci_low))
    assert many.ci_low < many.value < many.ci_high


def test_intervals_are_clipped_to_the_range_of_kappa() -> None:
    """An interval never leaves [-1, 1], whatever 1.96 standard errors reach."""
    codes = noisy_codes(6, 8, 8, 2, missing=0.2)
    for _, _, figure in metrics.cohen_kappa_matrix(codes, 2).pairs():
        if figure.ci_low is not None and figure.ci_high is not None:
            assert -1.0 <= figure.ci_low <= figure.ci_high <= 1.0


def test_matrices_of_groups_carry_no_interval() -> None:
    """The over-time matrices of groups of images are left without intervals."""
    codes = noisy_codes(7, 100, 4, 3, missing=0.2)
    groups = np.arange(100) % 2
    for matrix in metrics.cohen_kappa_matrices(codes, 3, groups, 2):
        assert np.isnan(matrix.std_error).all()
        assert all(f.ci_low is None for _, _, f in matrix.pairs())
