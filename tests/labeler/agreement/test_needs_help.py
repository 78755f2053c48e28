"""Who may need help: flagged only on enough images, and on intervals for shares."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from labeler.agreement.metrics.figures import wilson_bounds
from labeler.agreement.needs_help import (
    MIN_GOLD_IMAGES,
    MIN_SHARED_IMAGES,
    needs_help,
    wilson_interval,
)


def figure(value, n):
    return {"value": value, "n_items": n}


def row(annotator, *, kappa=(0.8, 40), consensus=(0.9, 40), gold=(None, 0)):
    return {
        "annotator": annotator,
        "kappa_with_others": figure(*kappa),
        "agreement_with_others": figure(0.9, kappa[1]),
        "consensus_accuracy": figure(*consensus),
        "gold_accuracy": figure(*gold),
    }


def flagged(rows) -> dict[int, list[str]]:
    return {r["annotator"]: r["needs_help"] for r in needs_help(rows) if r["needs_help"]}


def test_one_shared_image_flags_nobody():
    """The reported case: kappa 0.00 with the others on a single shared image, while 100%
    with the consensus and on gold, is no evidence: not flagged, and said to be too few."""
    rows = needs_help(
        [
            row(1, kappa=(0.0, 1), consensus=(1.0, 1), gold=(1.0, 1)),
            row(2, kappa=(0.85, 40)),
            row(3, kappa=(0.8, 40)),
        ]
    )
    assert [r["needs_help"] for r in rows] == [[], [], []]
    assert [r["too_few_images"] for r in rows] == [True, False, False]


def test_just_under_the_minimum_is_not_judged_and_at_it_is():
    others = [row(2, kappa=(0.85, 40)), row(3, kappa=(0.8, 40))]
    under = row(1, kappa=(0.1, MIN_SHARED_IMAGES - 1), consensus=(0.9, MIN_SHARED_IMAGES - 1))
    assert flagged([under, *others]) == {}
    at = row(1, kappa=(0.1, MIN_SHARED_IMAGES), consensus=(0.9, MIN_SHARED_IMAGES))
    [reason] = flagged([at, *others])[1]
    assert reason.startswith(f"κ with others 0.10 on {MIN_SHARED_IMAGES} images")
    assert "others' median 0.82" in reason


def test_a_poor_annotator_on_many_images_is_flagged_with_every_reason():
    rows = [
        row(1, kappa=(0.2, 60), consensus=(0.5, 60), gold=(0.3, 20)),
        row(2),
        row(3),
    ]
    reasons = flagged(rows)[1]
    assert len(reasons) == 3
    assert "agrees with consensus 50% on 60 images (95% interval up to 62%)" in reasons[1]
    assert "gold accuracy 30% on 20 gold images" in reasons[2]


def test_a_share_within_its_interval_of_the_others_is_not_flagged():
    """70% on 25 images against others' 90%: the point is 20 points below, but the top of
    its interval (85%) is within the 15-point gap, so the evidence does not suffice."""
    rows = [row(1, consensus=(0.7, 25)), row(2, consensus=(0.9, 40)), row(3, consensus=(0.9, 40))]
    assert flagged(rows) == {}
    rows[0]["consensus_accuracy"] = figure(0.65, 200)  # on many images the interval is tight
    assert "agrees with consensus 65% on 200 images" in flagged(rows)[1][0]
    rows[0]["consensus_ties"] = 30  # ties count as not agreeing, and the reason says so
    assert "agrees with consensus 65% on 200 images (30 of them tied)" in flagged(rows)[1][0]


def test_gold_needs_its_minimum_and_an_interval_below_the_floor():
    few = [row(1, gold=(0.0, MIN_GOLD_IMAGES - 1)), row(2), row(3)]
    assert flagged(few) == {}
    enough = [row(1, gold=(0.2, MIN_GOLD_IMAGES)), row(2), row(3)]
    assert "gold accuracy 20%" in flagged(enough)[1][0]
    borderline = [row(1, gold=(0.5, MIN_GOLD_IMAGES)), row(2), row(3)]  # interval to 76%
    assert flagged(borderline) == {}


def test_others_on_few_images_do_not_set_the_bar():
    """The median is of the others who have enough images; with fewer than two, no flag."""
    rows = [row(1, kappa=(0.2, 50)), row(2, kappa=(0.9, 50)), row(3, kappa=(0.9, 3))]
    assert flagged(rows) == {}


@pytest.mark.parametrize(("share", "n"), [(0.0, 5), (0.5, 20), (0.9, 40), (1.0, 12), (0.33, 3)])
def test_the_wilson_interval_matches_statsmodels(share, n):
    low, high = proportion_confint(round(share * n), n, alpha=0.05, method="wilson")
    assert wilson_interval(share, n) == pytest.approx((low, high), abs=1e-9)
    assert wilson_interval(0.5, 0) == (0.0, 1.0)


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_the_wilson_bounds_are_scipys_to_rounding(level):
    """Every count out of 1 to 40 items and a few large n, the ends at 0 and 1 included."""
    cases = [(k, n) for n in range(1, 41) for k in range(n + 1)]
    cases += [(0, 10**6), (1, 10**6), (499_999, 10**6), (10**6, 10**6)]
    for k, n in cases:
        expected = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        assert wilson_bounds(k, n, level) == pytest.approx((expected.low, expected.high), abs=1e-12)
