"""Promotion on the test set: the paired test's verdict in words, and what it decides."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

from labeler.predictions import runs
from labeler.predictions.comparison import paired_comparison
from labeler.predictions.promotion import NO_TEST_IMAGES
from tests.factories import ModelVersionFactory
from tests.labeler.predictions.test_runs import finish, labelled, project, start

__all__ = ["labelled", "project"]  # fixtures used by the tests below


def paired(only_current: int, only_candidate: int, both: int, *, seed: int = 0) -> dict:
    """Two models' probabilities on three labels where each model alone gets the given
    counts of images right and both get ``both`` right (the rest both get wrong)."""
    rng = np.random.default_rng(seed)
    n = only_current + only_candidate + both + 4
    y = rng.integers(0, 3, n)
    current, candidate = np.full((n, 3), 0.1), np.full((n, 3), 0.1)
    wrong = (y + 1) % 3
    right_current = np.r_[
        np.ones(only_current), np.zeros(only_candidate), np.ones(both), np.zeros(4)
    ]
    right_candidate = np.r_[
        np.zeros(only_current), np.ones(only_candidate), np.ones(both), np.zeros(4)
    ]
    current[np.arange(n), np.where(right_current > 0, y, wrong)] = 0.8
    candidate[np.arange(n), np.where(right_candidate > 0, y, wrong)] = 0.8
    return paired_comparison(
        y_true=y, current=(current, None), candidate=(candidate, None), multi_label=False
    )


@pytest.mark.parametrize(("only_current", "only_candidate"), [(12, 2), (3, 1), (1, 9), (0, 0)])
def test_the_p_value_is_the_exact_mcnemar_test(only_current, only_candidate):
    figures = paired(only_current, only_candidate, both=30)
    assert (figures["only_current_right"], figures["only_candidate_right"]) == (
        only_current, only_candidate,
    )  # fmt: skip
    table = [[30, only_current], [only_candidate, 4]]
    assert figures["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_the_verdict_says_which_side_of_the_noise_the_gap_is():
    assert paired(12, 2, both=30)["verdict"] == "worse"
    assert paired(2, 12, both=30)["verdict"] == "better"
    assert paired(3, 1, both=30)["verdict"] == "same"


def test_the_macro_f1_gain_has_a_paired_interval_around_it_and_none_on_few_images():
    figures = paired(2, 12, both=30)
    gain = figures["macro_f1_gain"]
    assert gain["value"] == pytest.approx(figures["candidate_macro_f1"] - figures["macro_f1"])
    low, high = gain["interval"]
    assert low <= gain["value"] <= high and low > 0  # better beyond noise: the gain too
    assert paired(2, 12, both=30)["macro_f1_gain"] == gain  # seeded
    few = paired(1, 2, both=5)["macro_f1_gain"]
    assert few["interval"] is None and "too few" in few["reason"]


def promoted(project, baseline, label_count_offset=0):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    run.refresh_from_db()
    ModelVersionFactory(
        project=project, version=1, label_count=run.label_count - label_count_offset
    )
    return finish(run, baseline=baseline)


def on_test(figures: dict, images: int = 48, seen: int = 0) -> dict:
    return {"version": 1, "images": images, "seen": seen, "split": "test", **figures}


def test_worse_beyond_noise_is_not_promoted_and_says_so(project, labelled):
    baseline = on_test(paired(12, 2, both=30))
    version = promoted(project, baseline, label_count_offset=1)
    assert not version.is_current
    p_value = binomtest(12, 14).pvalue
    assert version.promotion_note.startswith(
        "Not promoted: worse beyond noise than v1 on 48 test images neither was trained on "
        f"(v1 alone right on 12, this one alone on 2, exact McNemar test p = {p_value:.3f}); "
        f"macro-F1 {baseline['candidate_macro_f1']:.3f} against {baseline['macro_f1']:.3f}"
    )
    assert "gain 95% interval -" in version.promotion_note


def test_no_difference_beyond_noise_promotes_a_model_trained_on_more_labels(project, labelled):
    baseline = on_test(paired(3, 1, both=30), seen=5)
    assert baseline["candidate_macro_f1"] < baseline["macro_f1"]
    version = promoted(project, baseline, label_count_offset=1)
    assert version.is_current
    assert version.promotion_note.startswith(
        "Promoted: no difference beyond noise from v1 on 48 test images neither was trained "
        "on, 5 it had seen left out (v1 alone right on 3, this one alone on 1, exact McNemar "
        "test p = 0.625)"
    )
    assert version.promotion_note.endswith(
        f"Trained on more labels ({version.label_count} against {version.label_count - 1}), it "
        "is kept unless the test set shows it worse beyond noise."
    )


def test_better_beyond_noise_is_promoted_and_says_so(project, labelled):
    version = promoted(project, on_test(paired(2, 12, both=30)), label_count_offset=1)
    assert version.is_current
    assert version.promotion_note.startswith("Promoted: better beyond noise than v1 on 48")


def test_a_retraining_on_the_same_labels_right_on_the_same_images_changed_nothing(
    project, labelled
):
    version = promoted(project, on_test(paired(0, 0, both=30)))
    assert not version.is_current
    assert version.promotion_note.startswith("Nothing changed: no new labels since v1")
    assert version.promotion_note.endswith("v1 stays current.")


def test_new_labels_with_the_same_figures_still_promote(project, labelled):
    version = promoted(project, on_test(paired(0, 0, both=30)), label_count_offset=1)
    assert version.is_current
    assert version.promotion_note.startswith("Promoted: no difference beyond noise from v1")


@pytest.mark.parametrize(
    ("baseline", "words"),
    [
        ({"version": 1, "images": 0, "seen": 0, "split": "test"}, NO_TEST_IMAGES),
        ({"version": 1, "images": 0, "seen": 6, "split": "test"}, "on every one of the 6"),
        (None, "could not be measured on the same test images"),
        (
            {
                "version": 1,
                "images": 0,
                "seen": 0,
                "split": "test",
                "unmeasured": "its labels differ",
            },
            "(its labels differ)",
        ),
        (
            {
                "version": 1,
                "images": 0,
                "seen": 0,
                "split": "test",
                "unmeasured": "its weights could not be read",
            },
            "(its weights could not be read)",
        ),
    ],
)
def test_a_version_that_could_not_be_compared_is_promoted_and_says_why(
    project, labelled, baseline, words
):
    version = promoted(project, baseline)
    assert version.is_current
    assert version.promotion_note.startswith("Promoted: v1 was not compared: ")
    assert words in version.promotion_note
