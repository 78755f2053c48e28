"""The slice report's statistics on arrays: imbalance, the three tests, the correction, and
planted slices (corrupted labels, a model that fails) found while a clean slice is not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from labeler.agreement.metrics.linearised import fleiss_kappa_within, fleiss_terms
from labeler.slices import statistics
from labeler.slices.statistics import (
    accuracy_difference_test,
    adjust,
    flagged,
    imbalance,
    kappa_difference_test,
    label_mix_test,
    ratio_within,
)

NAMES = ["cat", "dog", "bird"]


def test_imbalance_names_the_rarest_label_and_the_ratio_in_words() -> None:
    """Shares and ratio from the counts; the level by the ratio; a label without images."""
    found = imbalance(np.array([300, 120, 20]), NAMES)
    assert found.rarest == 2 and found.rarest_share == pytest.approx(20 / 440)
    assert found.ratio == pytest.approx(15.0) and found.level == "severely imbalanced"
    assert "“bird”" in found.words and "5% of the labels (20)" in found.words
    assert "15.0 times as many" in found.words
    assert imbalance(np.array([100, 90, 80]), NAMES).level == "balanced"
    assert imbalance(np.array([100, 50, 40]), NAMES).level == "mildly imbalanced"
    assert imbalance(np.array([100, 50, 20]), NAMES).level == "imbalanced"
    none = imbalance(np.array([10, 0, 0]), NAMES)
    assert none.ratio is None and "no image is labelled “dog” or “bird”" in none.words
    assert imbalance(np.array([0, 0, 0]), NAMES).level == "none"


def test_label_mix_is_pearsons_chi_square_on_the_two_by_k_table() -> None:
    """Large counts: scipy's chi-square p-value, Cramér's V, and the label that moved most."""
    inside, outside = np.array([60, 30, 10]), np.array([200, 250, 150])
    test = label_mix_test(inside, outside, NAMES, images=(100, 600), multi_label=False)
    expected = stats.chi2_contingency(np.stack([inside, outside]), correction=False)
    assert test.p_value == pytest.approx(expected.pvalue)
    assert test.effect == pytest.approx(np.sqrt(expected.statistic / 700))
    assert test.method == "chi-square test"
    assert test.words.startswith("“cat” is 60% of these labels against 33% of the rest")


def exact_chi_square_p(table: np.ndarray) -> float:
    """The exact conditional p-value of Pearson's statistic on a 2 x 2 table: the chance,
    over every table with its margins (hypergeometric), of a statistic at least as large."""
    rows, columns = table.sum(axis=1), table.sum(axis=0)
    total, observed = table.sum(), stats.chi2_contingency(table, correction=False).statistic
    drawn = stats.hypergeom(total, columns[0], rows[0])
    p = 0.0
    for a in range(max(0, rows[0] - columns[1]), min(rows[0], columns[0]) + 1):
        other = np.array([[a, rows[0] - a], [columns[0] - a, rows[1] - columns[0] + a]])
        if stats.chi2_contingency(other, correction=False).statistic >= observed - 1e-9:
            p += drawn.pmf(a)
    return p


def test_small_counts_get_the_exact_p_value_by_simulation() -> None:
    """An expected count below 5: the p-value comes from tables with the same margins, and
    is the exact conditional one up to the simulation's resolution; the same each time."""
    inside, outside = np.array([1, 19, 0]), np.array([25, 80, 0])
    test = label_mix_test(inside, outside, NAMES, images=(20, 105), multi_label=False)
    assert "tables with the same margins" in test.method
    exact = exact_chi_square_p(np.array([[1, 19], [25, 80]]))
    assert test.p_value == pytest.approx(exact, abs=0.01)
    assert stats.chi2_contingency(np.array([[1, 19], [25, 80]]), correction=False).pvalue < exact
    again = label_mix_test(inside, outside, NAMES, images=(20, 105), multi_label=False)
    assert again.p_value == test.p_value  # seeded


def test_multi_label_mix_tests_each_label_and_corrects_over_them() -> None:
    """Images carrying each label: Fisher per label, the smallest p times the labels."""
    inside, outside = np.array([40, 10, 5]), np.array([40, 60, 30])
    test = label_mix_test(inside, outside, NAMES, images=(50, 200), multi_label=True)
    p_cat = stats.fisher_exact([[40, 10], [40, 160]]).pvalue
    assert test.p_value == pytest.approx(min(1.0, 3 * p_cat))
    assert test.words == "“cat” is on 80% of these images against 20% of the rest"


def test_too_few_images_are_shown_not_tested_and_say_why() -> None:
    """Below MIN_TESTED inside or outside; a slice holding everything has no rest."""
    few = label_mix_test(np.array([5, 5, 5]), np.array([50, 50, 50]), NAMES, images=(15, 150),
                         multi_label=False)  # fmt: skip
    assert few.p_value is None and few.reason.startswith("15 final-labelled images in this slice")
    everything = accuracy_difference_test((90, 0), (100, 0))
    assert everything.p_value is None and "no rest" in everything.reason
    one = label_mix_test(np.array([30, 0, 0]), np.array([40, 0, 0]), NAMES, images=(30, 40),
                         multi_label=False)  # fmt: skip
    assert one.p_value is None and "only one label" in one.reason


def test_accuracy_test_is_fishers_exact_one_sided() -> None:
    """Right less often inside: scipy's one-sided p; the effect in points, in words."""
    test = accuracy_difference_test((12, 170), (30, 200))
    expected = stats.fisher_exact([[12, 18], [170, 30]], alternative="less").pvalue
    assert test.p_value == pytest.approx(expected)
    assert test.effect == pytest.approx(0.4 - 0.85)
    assert test.words == (
        "accuracy 40% on 30 test images against 85% on the other 200: 45 points lower"
    )
    better = accuracy_difference_test((29, 150), (30, 200))
    assert better.p_value > 0.9 and better.words.endswith("points higher")


def test_ratio_within_counts_images_and_gives_a_clustered_interval() -> None:
    """sum / sum over the chosen rows with a denominator; the interval holds the value."""
    matches = np.array([3.0, 2.0, 0.0, 3.0, 1.0])
    judged = np.array([3.0, 3.0, 0.0, 3.0, 2.0])
    figure = ratio_within(matches, judged, np.array([True, True, True, True, False]))
    assert figure.value == pytest.approx(8 / 9) and figure.n_items == 3
    assert figure.ci_low < figure.value <= figure.ci_high <= 1.0
    empty = ratio_within(matches, judged, np.array([False, False, True, False, False]))
    assert empty.value is None and empty.n_items == 0


def test_adjust_is_statsmodels_and_leaves_untested_slices_out() -> None:
    """Benjamini-Hochberg (default) or Holm over the tested p-values only."""
    p_values = [0.001, None, 0.02, 0.04, None, 0.3]
    tested = [0.001, 0.02, 0.04, 0.3]
    for method in ("fdr_bh", "holm"):
        expected = multipletests(tested, method=method)[1].tolist()
        found = adjust(p_values, method)
        assert [found[i] for i in (0, 2, 3, 5)] == pytest.approx(expected)
        assert found[1] is None and found[4] is None
    many = np.random.default_rng(4).random(50) ** 3
    many[[3, 9]] = many[5]  # ties
    for method in ("fdr_bh", "holm"):
        assert adjust(many.tolist(), method) == pytest.approx(
            multipletests(many, method=method)[1].tolist()
        )
    assert adjust([None, None]) == [None, None]
    with pytest.raises(ValueError, match="method must be one of"):
        adjust([0.1], "bonferroni")
    assert flagged(0.01) and not flagged(0.05) and not flagged(None)


def planted_ratings(seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """900 images labelled by 3 annotators at 90% each, in slices of 100; in the slice
    "corrupted" two of the three labels are random."""
    rng = np.random.default_rng(seed)
    n, k = 900, 4
    truth = rng.integers(0, k, n)
    codes = np.where(rng.random((n, 3)) < 0.9, truth[:, None], rng.integers(0, k, (n, 3)))
    slices = {name: np.arange(n) // 100 == i for i, name in enumerate("abcdefgh")}
    slices["corrupted"] = np.arange(n) // 100 == 8
    corrupted = np.flatnonzero(slices["corrupted"])
    codes[corrupted, 1:] = rng.integers(0, k, (corrupted.size, 2))
    return codes, slices


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_slice_with_corrupted_labels_is_flagged_and_clean_ones_are_not(seed: int) -> None:
    """Nine slices tested together: only the corrupted one's kappa is lower beyond chance."""
    codes, slices = planted_ratings(seed)
    terms = fleiss_terms(codes, 4)
    tests = {
        name: kappa_difference_test(
            fleiss_kappa_within(terms, mask), fleiss_kappa_within(terms, ~mask)
        )
        for name, mask in slices.items()
    }
    adjusted = dict(zip(tests, adjust([t.p_value for t in tests.values()]), strict=True))
    assert [name for name, p in adjusted.items() if flagged(p)] == ["corrupted"]
    assert tests["corrupted"].effect < -0.3
    assert "lower" in tests["corrupted"].words


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_slice_the_model_fails_on_is_flagged_and_clean_ones_are_not(seed: int) -> None:
    """Ten slices of 40 test images, the model right on 90%, on 55% in one of them."""
    rng = np.random.default_rng(seed)
    slice_of = np.repeat(np.arange(10), 40)
    right = rng.random(400) < np.where(slice_of == 7, 0.55, 0.9)
    tests = []
    for index in range(10):
        inside = slice_of == index
        counts = (int(right[inside].sum()), int(right[~inside].sum()))
        tests.append(accuracy_difference_test(counts, (40, 360)))
    found = [i for i, p in enumerate(adjust([t.p_value for t in tests])) if flagged(p)]
    assert found == [7]


def mix_tests(seed: int, planted: bool) -> list[statistics.Test]:
    """Eight slices of 80 final labels drawn alike; with ``planted``, slice 2 drawn mostly
    from one label."""
    rng = np.random.default_rng(seed)
    slice_of = np.repeat(np.arange(8), 80)
    labels = rng.choice(3, 640, p=[0.5, 0.3, 0.2])
    if planted:
        labels[slice_of == 2] = rng.choice(3, 80, p=[0.15, 0.15, 0.7])
    tests = []
    for index in range(8):
        inside = slice_of == index
        counts = [np.bincount(labels[mask], minlength=3) for mask in (inside, ~inside)]
        tests.append(label_mix_test(*counts, NAMES, images=(80, 560), multi_label=False))
    return tests


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_label_mix_planted_in_one_slice_is_flagged_and_surest(seed: int) -> None:
    """The planted slice is flagged, with the smallest adjusted p-value, naming the label
    that moved; without it no slice is flagged."""
    tests = mix_tests(seed, planted=True)
    adjusted = adjust([t.p_value for t in tests])
    assert flagged(adjusted[2]) and int(np.argmin(adjusted)) == 2
    assert tests[2].words.startswith("“bird” is ")
    clean = adjust([t.p_value for t in mix_tests(seed, planted=False)])
    assert not any(flagged(p) for p in clean)


def test_the_correction_is_what_keeps_chance_from_flagging() -> None:
    """Forty clean slices: some raw p-values fall below 0.05, none once adjusted."""
    rng = np.random.default_rng(11)
    slice_of = np.repeat(np.arange(40), 50)
    right = rng.random(2000) < 0.85
    raw = [
        accuracy_difference_test(
            (int(right[slice_of == i].sum()), int(right[slice_of != i].sum())), (50, 1950)
        ).p_value
        for i in range(40)
    ]
    assert any(p < statistics.ALPHA for p in raw)
    assert not any(flagged(p) for p in adjust(raw)) and not any(
        flagged(p) for p in adjust(raw, "holm")
    )
