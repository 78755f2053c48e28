"""The drift check's statistics on generated arrays (fixed seeds): draws from one
distribution alarm at no more than the stated rate, counted over seeded repetitions;
a shifted mean, a changed scale or another label mix alarm."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.monitoring.statistics import (
    Sample,
    confidence_test,
    drift_verdict,
    holm,
    label_mix_test,
    mmd_test,
    pooled_table,
    subsample,
    verdict_reason,
)

DIM = 16


def draw(
    rng: np.random.Generator,
    n: int,
    *,
    shift: float = 0.0,
    scale: float = 1.0,
    mix: tuple[float, ...] = (0.5, 0.3, 0.2),
) -> Sample:
    """n points of a 3-class world: embeddings around each class's centre, the confidence
    a Beta draw, the top label drawn from ``mix``."""
    labels = rng.choice(len(mix), size=n, p=mix)
    centres = np.eye(len(mix), DIM) * 3.0
    embeddings = centres[labels] + rng.normal(shift, scale, (n, DIM))
    confidences = rng.beta(8, 2, n)
    return Sample(embeddings=embeddings, confidences=confidences, labels=labels)


def alarms(repetitions: int, rate: float, n: int = 60, **shifted: object) -> int:
    """How many of ``repetitions`` seeded checks alarm (recent drawn with ``shifted``); at
    5% and above 400 permutations suffice (the smallest p-value, 1/401, is far below Holm's
    cut-offs), below the check's own number."""
    permutations = 400 if rate >= 0.05 else None
    count = 0
    for seed in range(repetitions):
        rng = np.random.default_rng(seed)
        reference = draw(rng, n)
        recent = draw(rng, n, **shifted)  # type: ignore[arg-type]
        verdict = drift_verdict(recent, reference, rate=rate, seed=seed, permutations=permutations)
        count += verdict.alarm
    return count


@pytest.mark.slow
def test_same_distribution_alarms_at_no_more_than_the_rate():
    """400 checks of two draws of one distribution at a 5% false-alarm rate: 18 alarm
    (4.5%), under the 5% stated (Holm keeps the family's rate at or under it)."""
    count = alarms(400, rate=0.05)
    assert count == 18
    assert count / 400 <= 0.05


@pytest.mark.slow
def test_at_one_percent_the_same_distribution_rarely_alarms():
    """100 checks at 1%: at most one alarm (the default rate)."""
    assert alarms(100, rate=0.01) <= 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "shifted",
    [{"shift": 0.5}, {"scale": 2.0}, {"mix": (0.2, 0.3, 0.5)}],
    ids=["mean shift", "scale change", "label mix"],
)
def test_shifted_draws_alarm(shifted):
    """Every one of 10 seeded checks of a shifted draw alarms at 1%."""
    assert alarms(10, rate=0.01, n=120, **shifted) == 10


def test_each_test_sees_its_own_change():
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, (100, 8)), rng.normal(0.6, 1, (100, 8))
    assert mmd_test(a, b, permutations=200).p_value < 0.01
    assert mmd_test(a, rng.normal(0, 1, (100, 8)), permutations=200).p_value > 0.05
    assert confidence_test(rng.beta(8, 2, 200), rng.beta(4, 2, 200)).p_value < 0.01
    mix = label_mix_test(np.repeat([0, 1], [150, 50]), np.repeat([0, 1], [100, 100]))
    assert mix.p_value < 0.01


def test_the_permutation_p_value_is_seeded_and_never_zero():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (50, 4)), rng.normal(5, 1, (50, 4))
    first, again = mmd_test(a, b, permutations=99, seed=3), mmd_test(a, b, permutations=99, seed=3)
    assert first == again
    assert first.p_value == pytest.approx(1 / 100)


def test_too_few_points_give_no_evidence():
    assert mmd_test(np.zeros((1, 3)), np.zeros((9, 3))).p_value == 1.0
    assert confidence_test(np.array([]), np.array([0.5])).p_value == 1.0
    assert label_mix_test(np.array([1, 1]), np.array([1, 1, 1])).p_value == 1.0


def test_rare_labels_are_pooled_before_the_chi_square():
    """Two labels seen once or twice are pooled, and their pool dropped while still rare."""
    table = pooled_table([40, 30, 1, 0], [38, 35, 0, 2])
    assert table.tolist() == [[40, 30], [38, 35]]
    assert pooled_table([40, 30, 5, 6], [38, 35, 4, 5]).shape == (2, 3)


def test_holm_steps_down():
    assert holm([0.001, 0.02, 0.04], 0.05) == [True, True, True]
    assert holm([0.001, 0.03, 0.04], 0.05) == [True, False, False]
    assert holm([0.02, 0.03, 0.04], 0.05) == [False, False, False]


def test_subsample_caps_each_side():
    rng = np.random.default_rng(0)
    assert len(subsample(10_000, 500, rng)) == 500
    assert subsample(3, 500, rng).tolist() == [0, 1, 2]


def test_rows_logged_without_an_embedding_are_left_out_of_the_mmd_only():
    rng = np.random.default_rng(2)
    reference, recent = draw(rng, 50), draw(rng, 50)
    recent.embeddings[:10] = np.nan
    verdict = drift_verdict(recent, reference, rate=0.01, permutations=100)
    assert [t.n_recent for t in verdict.tests] == [40, 50, 50]
    assert verdict_reason(verdict).startswith("No drift found at a 1.00% false-alarm rate")
