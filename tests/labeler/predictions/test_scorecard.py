"""The test scorecard against scikit-learn on the same probabilities (fixed seeds), its
intervals, and the figures it leaves null with a reason instead of a misleading number."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from labeler.predictions import ranking
from labeler.predictions.curves import CURVE_POINTS
from labeler.predictions.scorecard import scorecard

LABELS = [11, 12, 13, 14]


def single_label(n: int, seed: int = 0, labels: int = 4, skill: float = 0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, labels, n)
    p = rng.random((n, labels))
    p[np.arange(n), y] += skill * rng.random(n)
    return y, p / p.sum(axis=1, keepdims=True)


def multi_label(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 4)) < [0.5, 0.3, 0.2, 0.1]).astype(np.int64)
    p = np.clip(rng.random((n, 4)) * 0.7 + y * rng.random((n, 4)) * 0.5, 0, 1)
    return y, np.round(p, 2)  # rounded: ties among the scores, as real models give


def values(rows, key):
    return np.array([np.nan if row[key]["value"] is None else row[key]["value"] for row in rows])


def test_single_label_figures_are_scikit_learns():
    y, p = single_label(240, seed=1)
    card = scorecard(y_true=y, probabilities=p, label_ids=LABELS, multi_label=False)
    predicted = p.argmax(1)
    assert card["accuracy"]["value"] == accuracy_score(y, predicted)
    assert card["macro_f1"]["value"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert card["micro_f1"]["value"] == pytest.approx(f1_score(y, predicted, average="micro"))
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted)
    rows = card["per_label"]
    assert np.allclose(values(rows, "precision"), precision)
    assert np.allclose(values(rows, "recall"), recall)
    assert np.allclose(values(rows, "f1"), f1)
    assert [row["support"] for row in rows] == support.tolist()
    assert card["confusion"]["matrix"] == confusion_matrix(y, predicted).tolist()
    onehot = label_binarize(y, classes=range(4))
    for j, row in enumerate(rows):
        assert row["roc_auc"]["value"] == pytest.approx(roc_auc_score(onehot[:, j], p[:, j]))
        ap = average_precision_score(onehot[:, j], p[:, j])
        assert row["average_precision"]["value"] == pytest.approx(ap)
    ovr = roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert card["roc_auc"]["macro"]["value"] == pytest.approx(ovr)
    micro = roc_auc_score(onehot, p, average="micro")
    assert card["roc_auc"]["micro"]["value"] == pytest.approx(micro)
    for average in ("macro", "micro"):
        ap = average_precision_score(onehot, p, average=average)
        assert card["average_precision"][average]["value"] == pytest.approx(ap)
    # Top-label calibration: the reliability diagram is calibration_curve's.
    right = (predicted == y).astype(float)
    observed, confidence = calibration_curve(right, p.max(1), n_bins=10, strategy="uniform")
    bins = [b for b in card["calibration"]["bins"] if b["count"]]
    assert np.allclose([b["observed"] for b in bins], observed)
    assert np.allclose([b["confidence"] for b in bins], confidence)
    counts = np.array([b["count"] for b in bins])
    ece = (counts * np.abs(observed - confidence)).sum() / counts.sum()
    assert card["calibration"]["ece"]["value"] == pytest.approx(ece)


def test_multi_label_figures_are_scikit_learns_at_the_thresholds():
    y, p = multi_label(300, seed=2)
    thresholds = [0.5, 0.45, 0.4, 0.35]
    card = scorecard(
        y_true=y, probabilities=p, label_ids=LABELS, multi_label=True, thresholds=thresholds
    )
    predicted = (p >= thresholds).astype(np.int64)
    assert card["accuracy"]["value"] == accuracy_score(y, predicted)  # exact match of the set
    assert card["macro_f1"]["value"] == pytest.approx(f1_score(y, predicted, average="macro"))
    precision, recall, f1, _ = precision_recall_fscore_support(y, predicted)
    assert np.allclose(values(card["per_label"], "precision"), precision)
    assert np.allclose(values(card["per_label"], "recall"), recall)
    assert np.allclose(values(card["per_label"], "f1"), f1)
    matrices = multilabel_confusion_matrix(y, predicted).reshape(-1, 4).tolist()
    assert card["confusion"]["per_label"] == matrices
    for average in ("macro", "micro"):
        auc = roc_auc_score(y, p, average=average)
        assert card["roc_auc"][average]["value"] == pytest.approx(auc)
        ap = average_precision_score(y, p, average=average)
        assert card["average_precision"][average]["value"] == pytest.approx(ap)
    observed, confidence = calibration_curve(y.ravel(), p.ravel(), n_bins=10)
    bins = [b for b in card["calibration"]["bins"] if b["count"]]
    assert np.allclose([b["observed"] for b in bins], observed)
    assert np.allclose([b["confidence"] for b in bins], confidence)
    assert [row["threshold"] for row in card["per_label"]] == thresholds


def test_each_figure_has_its_n_and_an_interval_around_it_seeded():
    y, p = single_label(240, seed=1)
    card = scorecard(y_true=y, probabilities=p, label_ids=LABELS, multi_label=False)
    again = scorecard(y_true=y, probabilities=p, label_ids=LABELS, multi_label=False)
    assert card == again
    shown = [
        card["accuracy"],
        card["macro_f1"],
        card["roc_auc"]["macro"],
        card["calibration"]["ece"],
    ]
    shown += [row[key] for row in card["per_label"] for key in ("precision", "recall", "f1")]
    for figure in shown:
        low, high = figure["interval"]
        assert low <= figure["value"] <= high and high - low < 0.5, figure
    assert card["accuracy"]["n"] == 240
    first = card["per_label"][0]
    assert first["recall"]["n"] == first["support"]
    assert first["precision"]["n"] == int((p.argmax(1) == 0).sum())


def test_a_label_with_no_test_image_is_null_with_its_reason_not_zero():
    y, p = single_label(60, seed=3, labels=3)
    p = np.c_[p, np.zeros(60)]  # a fourth label, never true, never predicted
    card = scorecard(y_true=y, probabilities=p, label_ids=LABELS, multi_label=False)
    absent = card["per_label"][3]
    assert absent["support"] == 0
    for key in ("precision", "recall", "f1", "roc_auc", "average_precision"):
        assert absent[key]["value"] is None and absent[key]["reason"], key
    assert absent["recall"]["reason"] == "No test image has this label."
    assert card["roc_auc"]["left_out"] == [14] and card["roc_auc"]["averaged_over"] == LABELS[:3]
    three = f1_score(y, p.argmax(1), average="macro")  # over the labels that occur
    assert card["macro_f1"]["value"] == pytest.approx(three)


def test_three_images_get_no_bootstrap_interval_and_say_why():
    """The case that read "CI 1.00-1.00": three test images, all right."""
    y = np.array([0, 1, 0])
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    card = scorecard(y_true=y, probabilities=p, label_ids=[1, 2], multi_label=False)
    assert card["macro_f1"]["value"] == 1.0 and card["macro_f1"]["interval"] is None
    assert "3 test images are too few" in card["macro_f1"]["reason"]
    low, high = card["accuracy"]["interval"]  # a share: Wilson, honest on 3 images
    assert high == 1.0 and low < 0.5
    assert card["per_label"][0]["roc_auc"]["interval"] is None


def test_a_perfect_score_gets_no_interval_from_resampling():
    y = np.arange(40) % 2
    p = np.c_[1 - y * 0.9 - 0.05, y * 0.9 + 0.05]
    card = scorecard(y_true=y, probabilities=p, label_ids=[1, 2], multi_label=False, n_boot=50)
    assert card["macro_f1"]["value"] == 1.0 and card["macro_f1"]["interval"] is None
    assert "all 50 bootstrap draws give 1.00" in card["macro_f1"]["reason"]


def test_curves_stay_small_while_the_areas_come_from_every_point():
    y, p = single_label(4000, seed=4, labels=2, skill=0.3)
    card = scorecard(y_true=y, probabilities=p, label_ids=[1, 2], multi_label=False, n_boot=20)
    curve = card["curves"]["roc"][1]
    full_fpr, full_tpr, _ = roc_curve(y == 1, p[:, 1])
    assert curve["points"] == len(full_fpr) > CURVE_POINTS >= len(curve["fpr"])
    assert (curve["fpr"][0], curve["tpr"][-1]) == (0.0, 1.0)
    assert card["per_label"][1]["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, p[:, 1]))
    assert np.trapezoid(curve["tpr"], curve["fpr"]) == pytest.approx(
        np.trapezoid(full_tpr, full_fpr), abs=0.01
    )
    pr = card["curves"]["pr"][1]
    assert len(pr["recall"]) <= CURVE_POINTS and pr["base"] == pytest.approx(np.mean(y == 1))
    assert len(card["curves"]["macro_roc"]["fpr"]) <= CURVE_POINTS


def test_small_curves_are_scikit_learns_point_for_point():
    y, p = single_label(40, seed=5, labels=2)
    card = scorecard(y_true=y, probabilities=p, label_ids=[1, 2], multi_label=False, n_boot=20)
    fpr, tpr, _ = roc_curve(y == 0, p[:, 0])
    curve = card["curves"]["roc"][0]
    assert np.allclose(curve["fpr"], fpr, atol=1e-4) and np.allclose(curve["tpr"], tpr, atol=1e-4)


def test_each_bootstrap_draw_scores_as_scikit_learn_with_those_weights():
    """The bootstrap's fast areas: a draw is a weighting of the images (ties included)."""
    y, p = multi_label(150, seed=6)
    rng = np.random.default_rng(0)
    weights = np.stack([np.bincount(rng.integers(0, 150, 150), minlength=150) for _ in range(6)])
    r = ranking.ranked(y[:, 1], p[:, 1])
    auc, ap = ranking.ranking_scores(r, weights)
    for k, w in enumerate(weights):
        assert auc[k] == pytest.approx(roc_auc_score(y[:, 1], p[:, 1], sample_weight=w))
        assert ap[k] == pytest.approx(average_precision_score(y[:, 1], p[:, 1], sample_weight=w))
    micro = ranking.ranked(y.ravel(), p.ravel(), np.repeat(np.arange(150), 4))
    auc, _ = ranking.ranking_scores(micro, weights)
    for k, w in enumerate(weights):
        expected = roc_auc_score(y.ravel(), p.ravel(), sample_weight=np.repeat(w, 4))
        assert auc[k] == pytest.approx(expected)
