"""Intervals beside a model's figures, and promotion notes that do not overclaim."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labeler.predictions import runs
from labeler.predictions.evaluation import classification_metrics, metric_intervals
from tests.factories import ModelVersionFactory
from tests.labeler.predictions.test_runs import finish, labelled, project, start

__all__ = ["labelled", "project"]  # fixtures used by the tests below


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


def same_as(version: int, images: int = 20) -> dict:
    return {
        "version": version,
        "images": images,
        "seen": 0,
        "accuracy": 0.95,
        "candidate_accuracy": 0.95,
        "macro_f1": 0.93,
        "candidate_macro_f1": 0.93,
        "only_current_right": 0,
        "only_candidate_right": 0,
    }


def test_a_retraining_on_the_same_labels_with_the_same_figures_changed_nothing(project, labelled):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    run.refresh_from_db()
    current = ModelVersionFactory(project=project, version=1, label_count=run.label_count)
    version = finish(run, baseline=same_as(1))
    assert not version.is_current
    assert version.promotion_note.startswith("Nothing changed: no new labels since v1")
    assert version.promotion_note.endswith("v1 stays current.")
    current.refresh_from_db()
    assert current.is_current


def test_new_labels_with_the_same_figures_still_promote(project, labelled):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    run.refresh_from_db()
    ModelVersionFactory(project=project, version=1, label_count=run.label_count - 1)
    version = finish(run, baseline=same_as(1))
    assert version.is_current
    assert version.promotion_note.startswith("Promoted:")


def test_a_gain_within_chance_says_the_set_is_too_small_to_tell(project, labelled):
    ModelVersionFactory(project=project, version=1)
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    baseline = {**same_as(1), "candidate_macro_f1": 0.96, "only_current_right": 1}
    baseline["only_candidate_right"] = 2
    version = finish(run, baseline=baseline)
    assert version.is_current
    assert version.promotion_note == (
        "Promoted: macro-F1 0.960 vs 0.930 of v1 on 20 validation images; the validation set "
        "is too small to tell the two apart (v1 alone right on 1, this one alone on 2, "
        "p = 1.00)."
    )


def test_a_gain_beyond_chance_is_promoted_plainly(project, labelled):
    ModelVersionFactory(project=project, version=1)
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    baseline = {**same_as(1, images=200), "candidate_macro_f1": 0.97}
    baseline.update(only_current_right=2, only_candidate_right=20)
    version = finish(run, baseline=baseline)
    assert version.promotion_note == (
        "Promoted: macro-F1 0.970 vs 0.930 of v1 on 200 validation images."
    )
