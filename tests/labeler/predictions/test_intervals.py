"""Intervals beside a model's figures on its validation images."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labeler.predictions.evaluation import classification_metrics, metric_intervals
from labeler.predictions.resampling import Draws


def made_up(n: int, k: int = 3, *, seed: int = 1, skill: float = 0.3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    probabilities = rng.random((n, k))
    probabilities[np.arange(n), y] += skill
    return y, probabilities / probabilities.sum(axis=1, keepdims=True)


def test_accuracy_has_the_wilson_interval():
    """The reported case: 95% on 20 validation images is 76% to 99% at 95%."""
    y, probabilities = made_up(20)
    probabilities[:, :] = 0.1
    probabilities[np.arange(20), y] = 0.8
    probabilities[0] = np.roll(probabilities[0], 1)  # one wrong: 19 of 20
    figures = classification_metrics(
        y_true=y, probabilities=probabilities, label_ids=[1, 2, 3], multi_label=False
    )
    assert figures["accuracy"] == 0.95
    ci = metric_intervals(y_true=y, probabilities=probabilities, multi_label=False)
    low, high = proportion_confint(19, 20, alpha=0.05, method="wilson")
    assert ci["accuracy_ci"] == pytest.approx([low, high], abs=1e-9)
    assert round(ci["accuracy_ci"][0], 2) == 0.76 and round(ci["accuracy_ci"][1], 2) == 0.99


@pytest.mark.parametrize("multi_label", [False, True])
def test_macro_f1_has_a_seeded_bootstrap_interval_around_it(multi_label):
    if multi_label:
        rng = np.random.default_rng(3)
        y = rng.random((60, 4)) > 0.5
        probabilities = np.clip(rng.random((60, 4)) * 0.6 + y * 0.35, 0, 1)
    else:
        y, probabilities = made_up(60)
    figures = classification_metrics(
        y_true=y, probabilities=probabilities, label_ids=[1, 2, 3, 4][: probabilities.shape[1]],
        multi_label=multi_label,
    )  # fmt: skip
    ci = metric_intervals(y_true=y, probabilities=probabilities, multi_label=multi_label)
    low, high = ci["macro_f1_ci"]
    assert low <= figures["macro_f1"] <= high and 0 < high - low < 0.5
    again = metric_intervals(y_true=y, probabilities=probabilities, multi_label=multi_label)
    assert again["macro_f1_ci"] == ci["macro_f1_ci"]  # a fixed seed
    other = metric_intervals(y_true=y, probabilities=probabilities, multi_label=multi_label, seed=7)
    assert other["macro_f1_ci"] != ci["macro_f1_ci"]
    assert "bootstrap" in ci["interval_methods"]["macro_f1"]


def test_intervals_narrow_as_the_validation_set_grows():
    widths = []
    for n in (20, 200, 2000):
        y, probabilities = made_up(n)
        ci = metric_intervals(y_true=y, probabilities=probabilities, multi_label=False)
        widths.append(
            (
                ci["accuracy_ci"][1] - ci["accuracy_ci"][0],
                ci["macro_f1_ci"][1] - ci["macro_f1_ci"][0],
            )
        )
    assert widths[0][0] > widths[1][0] > widths[2][0]
    assert widths[0][1] > widths[1][1] > widths[2][1]


def test_an_interval_that_leaves_out_its_figure_says_so():
    """A percentile interval of draws that all lie above the figure (the calibration error
    of a well-calibrated model: a resample's bins look worse) is kept, and said plainly."""
    draws = Draws(n=5000, n_boot=200, seed=0, enough=True)
    draws.samples["ece"] = np.linspace(0.0105, 0.0285, 200)
    shown = draws.figure("ece", 0.01044)
    assert shown["interval"] == pytest.approx([0.01095, 0.02805], abs=1e-4)
    assert shown["reason"].startswith(
        "The 95% interval of the bootstrap draws (0.0109 to 0.0281) lies above 0.0104:"
    )
    draws.samples["low"] = np.linspace(0.2, 0.4, 200)
    assert "below 0.5" in draws.figure("low", 0.5)["reason"]
    # A figure inside its interval has no such note.
    assert draws.figure("ece", 0.02)["reason"] is None
