"""Agreement metrics against reference implementations, published examples and edge cases."""

from __future__ import annotations

import itertools
import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from labeler.agreement import metrics
from labeler.agreement.metrics import Figure

# Undefined cases must come out as reasons, not as numpy warnings about NaN.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

TIGHT = 1e-9
ALL_METRICS = [metrics.fleiss_kappa, metrics.krippendorff_alpha, metrics.percent_agreement]
SEEDS = [0, 1, 2, 3]
# 40 is above tallies.DENSE_UP_TO, so it takes the sorted-runs path rather than dense counts.
KS = [2, 3, 7, 40]


def noisy_codes(seed: int, n_items: int, n_annotators: int, k: int, missing: float) -> np.ndarray:
    """Ratings that copy a hidden true category 60% of the time, some left unrated."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=n_items, p=rng.dirichlet(np.ones(k)))
    guesses = rng.integers(0, k, (n_items, n_annotators))
    codes = np.where(rng.random(guesses.shape) < 0.6, truth[:, np.newaxis], guesses)
    codes[rng.random(codes.shape) < missing] = -1
    return codes


def rated(row: np.ndarray) -> np.ndarray:
    return row[row >= 0]


def is_undefined(figure: Figure) -> bool:
    return figure.value is None and bool(figure.reason)


# --- Against reference implementations ----------------------------------------------------


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_matrix_matches_sklearn_for_every_pair(seed: int, k: int) -> None:
    """Each pair's kappa, shared count and raw agreement match sklearn on the shared images."""
    codes = noisy_codes(seed, 200, 5, k, missing=0.4)
    matrix = metrics.cohen_kappa_matrix(codes, k)
    for i, j, figure in matrix.pairs():
        both = (codes[:, i] >= 0) & (codes[:, j] >= 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = cohen_kappa_score(codes[both, i], codes[both, j])
        assert figure.value == pytest.approx(expected, abs=TIGHT)
        assert figure.n_items == matrix.n_items[j, i] == both.sum()
        agreement = np.mean(codes[both, i] == codes[both, j])
        assert matrix.agreement[i, j] == matrix.agreement[j, i] == pytest.approx(agreement)
    assert np.isnan(np.diag(matrix.kappa)).all()
    expected_mean = np.mean([figure.value for _, _, figure in matrix.pairs()])
    assert metrics.cohen_kappa_mean(matrix).value == pytest.approx(expected_mean, abs=TIGHT)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_matches_statsmodels_on_complete_data(seed: int, k: int) -> None:
    """With every image rated by every annotator, Fleiss' kappa equals statsmodels'."""
    codes = noisy_codes(seed, 150, 6, k, missing=0.0)
    table, _ = aggregate_raters(codes, n_cat=k)
    figure = metrics.fleiss_kappa(codes, k)
    assert figure.value == pytest.approx(statsmodels_fleiss(table), abs=TIGHT)
    assert figure.n_items == 150


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_with_varying_raters_follows_the_documented_formula(seed: int) -> None:
    """Mean per-image agreement against pooled category shares; images rated once left out."""
    k = 4
    codes = noisy_codes(seed, 120, 5, k, missing=0.5)
    rows = [rated(row) for row in codes if (row >= 0).sum() >= 2]
    per_item = [
        sum(c * (c - 1) for c in np.bincount(row, minlength=k)) / (len(row) * (len(row) - 1))
        for row in rows
    ]
    shares = np.bincount(np.concatenate(rows), minlength=k) / sum(len(row) for row in rows)
    chance = float((shares**2).sum())
    figure = metrics.fleiss_kappa(codes, k)
    assert figure.value == pytest.approx((np.mean(per_item) - chance) / (1 - chance), abs=TIGHT)
    assert figure.n_items == len(rows)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("seed", SEEDS)
def test_krippendorff_alpha_matches_the_package_with_missing_data(seed: int, k: int) -> None:
    """Nominal alpha equals the krippendorff package's (annotators x images, NaN = missing)."""
    codes = noisy_codes(seed, 200, 5, k, missing=0.5)
    reliability_data = np.where(codes < 0, np.nan, codes).T
    expected = krippendorff.alpha(reliability_data=reliability_data, level_of_measurement="nominal")
    assert metrics.krippendorff_alpha(codes, k).value == pytest.approx(expected, abs=TIGHT)


@pytest.mark.parametrize("k", [5, 40])
@pytest.mark.parametrize("seed", SEEDS)
def test_per_label_kappa_matches_statsmodels_on_the_binary_recoding(seed: int, k: int) -> None:
    """Each label's kappa is Fleiss' kappa of 'this label or not'; n_ratings counts its uses.

    A label nobody chose has no kappa (chance agreement on 'not this label' is 1).
    """
    codes = noisy_codes(seed, 150, 4, k, missing=0.0)
    for figures in metrics.per_label(codes, k):
        assert figures.n_ratings == (codes == figures.category).sum()
        if figures.n_ratings == 0:
            assert is_undefined(figures.kappa)
            continue
        binary = np.where(codes == figures.category, 0, 1)
        table, _ = aggregate_raters(binary, n_cat=2)
        assert figures.kappa.value == pytest.approx(statsmodels_fleiss(table), abs=TIGHT)


def images_by_brute_force(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((k, k), dtype=np.int64)
    for row in codes:
        cells = {(first, second) for first, second in itertools.permutations(rated(row), 2)}
        for first, second in cells:
            out[first, second] += 1
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_confusion_matrix_counts_images_given_two_labels(seed: int) -> None:
    """[c, d] counts the images where one annotator gave c and another d, each image once."""
    k = 4
    codes = noisy_codes(seed, 80, 5, k, missing=0.4)
    matrix = metrics.confusion_matrix(codes, k)
    np.testing.assert_array_equal(matrix, images_by_brute_force(codes, k))
    np.testing.assert_array_equal(matrix, matrix.T)


def test_confusion_matrix_counts_an_agreed_image_once() -> None:
    """Two annotators agreeing on an image add 1 to its label's diagonal entry, not 2; a
    disagreement adds 1 to the pair's cell and its mirror; an image rated once adds nothing."""
    codes = np.array([[0, 0], [0, 0], [1, 1], [0, 2], [2, -1]])
    matrix = metrics.confusion_matrix(codes, 3)
    np.testing.assert_array_equal(matrix, [[2, 0, 1], [0, 1, 0], [1, 0, 0]])
    assert np.trace(matrix) + np.triu(matrix, 1).sum() == 4  # the images rated twice


@pytest.mark.parametrize("seed", SEEDS)
def test_percent_agreement_and_specific_agreement_count_pairs(seed: int) -> None:
    """Agreement is agreeing pairs over all pairs; specific agreement is per label."""
    k = 3
    codes = noisy_codes(seed, 80, 5, k, missing=0.4)
    pairs = [pair for row in codes for pair in itertools.combinations(rated(row), 2)]
    expected = np.mean([first == second for first, second in pairs])
    assert metrics.percent_agreement(codes, k).value == pytest.approx(expected, abs=TIGHT)
    for figures in metrics.per_label(codes, k):
        c = figures.category
        with_c = [pair for pair in pairs if c in pair]
        both = sum(first == second == c for first, second in with_c)
        specific = 2 * both / (2 * both + (len(with_c) - both))
        assert figures.specific_agreement.value == pytest.approx(specific, abs=TIGHT)


@pytest.mark.parametrize("seed", SEEDS)
def test_per_annotator_matches_sklearn_and_pair_figures(seed: int) -> None:
    """Consensus and gold figures compare on images both have; 'others' uses the pairs."""
    k = 3
    codes = noisy_codes(seed, 200, 4, k, missing=0.3)
    rng = np.random.default_rng(seed)
    consensus = np.where(rng.random(200) < 0.8, codes.max(axis=1), -1)
    gold = np.where(rng.random(200) < 0.3, rng.integers(0, k, 200), -1)
    matrix = metrics.cohen_kappa_matrix(codes, k)
    for figures in metrics.per_annotator(codes, k, consensus, gold):
        i = figures.annotator
        assert figures.n_rated == (codes[:, i] >= 0).sum()
        for reference, accuracy, kappa in [
            (consensus, figures.consensus_accuracy, figures.consensus_kappa),
            (gold, figures.gold_accuracy, figures.gold_kappa),
        ]:
            both = (codes[:, i] >= 0) & (reference >= 0)
            assert accuracy.value == pytest.approx(np.mean(codes[both, i] == reference[both]))
            expected = cohen_kappa_score(codes[both, i], reference[both])
            assert kappa.value == pytest.approx(expected, abs=TIGHT)
            assert kappa.n_items == accuracy.n_items == both.sum()
        others = [j for j in range(4) if j != i]
        expected_mean = np.nanmean(matrix.kappa[i, others])
        assert figures.kappa_with_others.value == pytest.approx(expected_mean, abs=TIGHT)
        agreeing = sum(matrix.agreement[i, j] * matrix.n_items[i, j] for j in others)
        pooled = agreeing / sum(matrix.n_items[i, j] for j in others)
        assert figures.agreement_with_others.value == pytest.approx(pooled, abs=TIGHT)


def every_count_based_value(codes: np.ndarray, k: int) -> list[float | None]:
    figures = [metric(codes, k) for metric in ALL_METRICS]
    for label in metrics.per_label(codes, k):
        figures += [label.kappa, label.specific_agreement]
    return [figure.value for figure in figures] + [figure.n_items for figure in figures]


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_blocks_and_sorted_runs_give_the_same_figures(seed: int, monkeypatch) -> None:
    """The two ways of counting (many small blocks; sorted runs) agree with one dense pass."""
    codes = noisy_codes(seed, 300, 6, 4, missing=0.5)
    expected = every_count_based_value(codes, 4)
    confusion = metrics.confusion_matrix(codes, 4)
    monkeypatch.setattr("labeler.agreement.metrics.counts.BLOCK_CELLS", 40)
    np.testing.assert_array_equal(metrics.confusion_matrix(codes, 4), confusion)
    for dense_up_to in (32, 0):
        monkeypatch.setattr("labeler.agreement.metrics.tallies.DENSE_UP_TO", dense_up_to)
        assert every_count_based_value(codes, 4) == pytest.approx(expected, abs=TIGHT)


def random_label_sets(seed: int, n_items: int, n_annotators: int, n_labels: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sets = (rng.random((n_items, n_annotators, n_labels)) < 0.25).astype(np.int64)
    sets[rng.random((n_items, n_annotators)) < 0.4] = -1
    return sets


@pytest.mark.parametrize("n_labels", [1, 3, 70])
@pytest.mark.parametrize("seed", SEEDS)
def test_mean_jaccard_pools_every_pair_of_sets_on_one_image(seed: int, n_labels: int) -> None:
    """Jaccard |A & B| / |A | B| per pair of sets on an image, two empty sets counting 1."""
    sets = random_label_sets(seed, 60, 5, n_labels)
    similarities = []
    for image in sets:
        chosen = [set(np.flatnonzero(row)) for row in image if row[0] >= 0]
        for a, b in itertools.combinations(chosen, 2):
            similarities.append(len(a & b) / len(a | b) if a | b else 1.0)
    figure = metrics.mean_jaccard(sets)
    assert figure.value == pytest.approx(np.mean(similarities), abs=TIGHT)
    assert figure.n_items == ((sets[:, :, 0] >= 0).sum(axis=1) >= 2).sum()


def test_mean_jaccard_counts_bits_the_same_without_numpy_2(monkeypatch) -> None:
    """Before numpy 2.0 there is no np.bitwise_count; the byte-table fallback agrees."""
    sets = random_label_sets(5, 60, 5, 70)
    expected = metrics.mean_jaccard(sets)
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert metrics.mean_jaccard(sets) == expected


def test_binary_matrices_give_one_codes_matrix_per_label() -> None:
    """Matrix j holds label j's 0/1 per rating and -1 where the annotator did not rate."""
    sets = random_label_sets(0, 30, 4, 3)
    matrices = metrics.binary_matrices(sets)
    assert len(matrices) == 3
    for label, codes in enumerate(matrices):
        np.testing.assert_array_equal(codes, sets[:, :, label])
        assert metrics.fleiss_kappa(codes, 2).n_items > 0


# --- Published worked examples -------------------------------------------------------------


def test_fleiss_kappa_reproduces_the_published_example() -> None:
    """Fleiss (1971), as worked in Wikipedia's "Fleiss' kappa": 10 items, 14 raters, kappa 0.210."""
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    codes = np.array([np.repeat(np.arange(5), counts) for counts in table])
    figure = metrics.fleiss_kappa(codes, 5)
    assert round(figure.value, 3) == 0.210
    assert figure.value == pytest.approx(statsmodels_fleiss(table), abs=TIGHT)
    assert metrics.kappa_band(figure.value) == "fair"


def test_krippendorff_alpha_reproduces_the_published_nominal_example() -> None:
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
    12 units with missing values, nominal alpha = 0.743; unit 12 has one value, so is unpairable.
    """
    nan = np.nan
    observers = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    codes = np.where(np.isnan(observers), -1, observers - 1).astype(np.int64).T
    figure = metrics.krippendorff_alpha(codes, 5)
    assert round(figure.value, 3) == 0.743
    assert figure.n_items == 11


def test_cohen_kappa_reproduces_the_textbook_example() -> None:
    """Wikipedia's "Cohen's kappa": 50 grant proposals, 20 yes/yes, 15 no/no, 5 yes/no, 10 no/yes;
    p_o = 0.7, p_e = 0.5, kappa = 0.4.
    """
    pairs = [(1, 1)] * 20 + [(0, 0)] * 15 + [(1, 0)] * 5 + [(0, 1)] * 10
    matrix = metrics.cohen_kappa_matrix(np.array(pairs), 2)
    [(first, second, figure)] = matrix.pairs()
    assert (first, second) == (0, 1)
    assert figure.value == pytest.approx(0.4, abs=1e-15)
    assert figure.n_items == 50
    assert matrix.agreement[0, 1] == pytest.approx(0.7)


# --- Undefined cases -----------------------------------------------------------------------


def test_one_annotator_leaves_every_figure_undefined() -> None:
    """With a single annotator nothing can be compared; every figure says so, none raises."""
    codes = np.array([[0], [1], [2], [-1]])
    for metric in ALL_METRICS:
        assert is_undefined(metric(codes, 3))
    matrix = metrics.cohen_kappa_matrix(codes, 3)
    assert matrix.pairs() == []
    assert is_undefined(metrics.cohen_kappa_mean(matrix))
    [figures] = metrics.per_annotator(codes, 3)
    assert figures.n_rated == 3
    assert is_undefined(figures.kappa_with_others) and is_undefined(figures.agreement_with_others)
    assert all(is_undefined(f.kappa) for f in metrics.per_label(codes, 3))


def test_images_each_rated_once_leave_every_figure_undefined() -> None:
    """Several annotators who never rated the same image: no pairs, so no figures."""
    codes = np.array([[0, -1, -1], [-1, 1, -1], [-1, -1, 2], [1, -1, -1]])
    for metric in ALL_METRICS:
        figure = metric(codes, 3)
        assert figure.value is None and figure.reason == "fewer than two annotators rated any image"
    matrix = metrics.cohen_kappa_matrix(codes, 3)
    reasons = {figure.reason for *_, figure in matrix.pairs()}
    assert reasons == {"these two annotators rated no image in common"}
    assert is_undefined(metrics.cohen_kappa_mean(matrix))
    assert is_undefined(metrics.mean_jaccard(np.where(codes[..., None] >= 0, 1, -1)))


def test_a_single_category_leaves_kappa_and_alpha_undefined() -> None:
    """Everyone always chose category 1: chance agreement is 1, so kappa and alpha are undefined."""
    codes = np.array([[1, 1, -1], [1, 1, 1], [-1, 1, 1]])
    assert "chance agreement is 1" in metrics.fleiss_kappa(codes, 3).reason
    assert "expected disagreement is 0" in metrics.krippendorff_alpha(codes, 3).reason
    assert metrics.percent_agreement(codes, 3).value == 1.0
    matrix = metrics.cohen_kappa_matrix(codes, 3)
    assert all(is_undefined(f) and f.n_items > 0 for *_, f in matrix.pairs())
    assert is_undefined(metrics.cohen_kappa_mean(matrix))
    never, always, _ = metrics.per_label(codes, 3)
    assert is_undefined(never.kappa) and is_undefined(never.specific_agreement)
    assert "every rating" in always.kappa.reason
    assert always.specific_agreement.value == 1.0


def test_a_pair_without_shared_images_is_undefined_while_others_are_defined() -> None:
    """Annotators 0 and 2 never overlap; their pair says so and the mean skips it."""
    codes = np.array([[0, 0, -1], [1, 1, -1], [-1, 0, 1], [-1, 1, 1], [-1, 1, 0]])
    matrix = metrics.cohen_kappa_matrix(codes, 2)
    figures = {(i, j): figure for i, j, figure in matrix.pairs()}
    assert figures[0, 2] == Figure(None, "these two annotators rated no image in common", 0)
    assert np.isnan(matrix.agreement[0, 2]) and matrix.n_items[0, 2] == 0
    assert figures[0, 1].value == 1.0
    mean = metrics.cohen_kappa_mean(matrix)
    assert mean.value == pytest.approx((figures[0, 1].value + figures[1, 2].value) / 2)
    assert mean.n_items == 5


def test_missing_references_and_no_images_give_reasons_not_errors() -> None:
    """No consensus or gold given, an annotator without gold images, and an empty project."""
    codes = np.array([[0, 1], [1, 1], [0, -1]])
    gold = np.array([-1, 1, 0])
    first, second = metrics.per_annotator(codes, 2, gold=gold)
    assert first.consensus_kappa.reason == "no consensus labels were given"
    assert first.gold_accuracy.value == 1.0 and first.gold_accuracy.n_items == 2
    assert is_undefined(second.gold_kappa) and second.gold_accuracy.value == 1.0
    no_gold = metrics.per_annotator(codes, 2, gold=np.array([-1, -1, 0]))[1]
    assert no_gold.gold_accuracy.reason == "this annotator rated no gold image"
    empty = np.empty((0, 3), dtype=np.int64)
    assert all(is_undefined(metric(empty, 2)) for metric in ALL_METRICS)
    assert metrics.bootstrap_ci(metrics.fleiss_kappa, empty, 2) == (None, None)


def test_malformed_codes_raise_value_error() -> None:
    """Codes outside -1..k-1, non-integer codes and 1-D arrays are programming errors."""
    for codes, k in [(np.array([[0, 3]]), 3), (np.array([[0.0, 1.0]]), 2), (np.array([0, 1]), 2)]:
        with pytest.raises(ValueError):
            metrics.fleiss_kappa(codes, k)
    with pytest.raises(ValueError):
        metrics.mean_jaccard(np.array([[[1, -1]]]))


def test_figures_hold_plain_python_numbers() -> None:
    """Values are Python floats at full precision and counts are ints, ready to serialise."""
    figure = metrics.fleiss_kappa(noisy_codes(0, 50, 3, 3, missing=0.2), 3)
    assert type(figure.value) is float and type(figure.n_items) is int


# --- Bootstrap and bands -------------------------------------------------------------------


def naive_bootstrap(metric, codes, k, n_boot, seed, level, draw_size):
    rng = np.random.default_rng(seed)
    values = [metric(codes[rng.integers(0, len(codes), draw_size)], k).value for _ in range(n_boot)]
    values = [value for value in values if value is not None]
    tail = (1 - level) / 2
    return np.quantile(values, [tail, 1 - tail])


def test_bootstrap_ci_is_a_reproducible_percentile_interval_over_resampled_images() -> None:
    """Same seed, same interval; it equals a plain loop resampling rows, and brackets the value."""
    codes = noisy_codes(0, 300, 4, 3, missing=0.2)
    low, high = metrics.bootstrap_ci(metrics.krippendorff_alpha, codes, 3, n_boot=50, seed=7)
    expected = naive_bootstrap(metrics.krippendorff_alpha, codes, 3, 50, 7, 0.95, 300)
    assert (low, high) == pytest.approx(tuple(expected), abs=TIGHT)
    assert low < metrics.krippendorff_alpha(codes, 3).value < high
    again = metrics.bootstrap_ci(metrics.krippendorff_alpha, codes, 3, n_boot=50, seed=7)
    assert again == (low, high)


def test_bootstrap_ci_subsamples_large_data_and_rescales_the_spread() -> None:
    """Draws of max_rows images; the distances from the estimate shrink by sqrt(m / n)."""
    codes = noisy_codes(1, 2000, 3, 3, missing=0.1)
    low, high = metrics.bootstrap_ci(metrics.fleiss_kappa, codes, 3, n_boot=40, max_rows=500)
    draw_low, draw_high = naive_bootstrap(metrics.fleiss_kappa, codes, 3, 40, 0, 0.95, 500)
    estimate = metrics.fleiss_kappa(codes, 3).value
    assert low == pytest.approx(estimate + 0.5 * (draw_low - estimate), abs=TIGHT)
    assert high == pytest.approx(estimate + 0.5 * (draw_high - estimate), abs=TIGHT)


def test_bootstrap_ci_ignores_undefined_draws() -> None:
    """Draws missing the one disagreeing image are undefined and left out; all undefined: None."""
    codes = np.array([[0, 0], [0, 0], [0, 1], [1, 1]])
    low, high = metrics.bootstrap_ci(metrics.fleiss_kappa, codes, 2, n_boot=60, seed=3)
    assert (low, high) == pytest.approx(
        tuple(naive_bootstrap(metrics.fleiss_kappa, codes, 2, 60, 3, 0.95, 4)), abs=TIGHT
    )
    single = np.zeros((5, 2), dtype=np.int64)
    assert metrics.bootstrap_ci(metrics.fleiss_kappa, single, 2) == (None, None)


def test_with_ci_fills_the_interval_of_a_defined_figure_only() -> None:
    """A defined figure gains ci_low/ci_high; an undefined one comes back unchanged."""
    codes = noisy_codes(2, 200, 3, 3, missing=0.0)
    figure = metrics.with_ci(metrics.fleiss_kappa(codes, 3), metrics.fleiss_kappa, codes, 3)
    assert figure.ci_low < figure.value < figure.ci_high
    undefined = Figure(None, "no data", 0)
    assert metrics.with_ci(undefined, metrics.fleiss_kappa, codes, 3) is undefined


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (None, None),
        (float("nan"), None),
        (-0.01, "poor"),
        (0.0, "slight"),
        (0.2, "slight"),
        (0.21, "fair"),
        (0.4, "fair"),
        (0.41, "moderate"),
        (0.6, "moderate"),
        (0.61, "substantial"),
        (0.8, "substantial"),
        (0.81, "almost perfect"),
        (1.0, "almost perfect"),
    ],
)
def test_kappa_band_follows_landis_and_koch(value: float | None, band: str | None) -> None:
    """Landis & Koch (1977) bands, each upper edge inclusive; no value, no band."""
    assert metrics.kappa_band(value) == band
