"""Evaluation metrics against scikit-learn, calibration by hand, thresholds and the split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from labeler.predictions.evaluation import (
    classification_metrics,
    correct_per_image,
    expected_calibration_error,
    split_stratified,
    tune_thresholds,
)

LABELS = [7, 3, 9, 12]


def single_label_data(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    probs = rng.dirichlet(np.ones(4), n)
    probs[np.arange(n), y] += rng.random(n)  # better than chance, not perfect
    return y, probs / probs.sum(1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_label_matches_scikit_learn(seed):
    y, probs = single_label_data(seed)
    predicted = probs.argmax(1)
    result = classification_metrics(
        y_true=y, probabilities=probs, label_ids=LABELS, multi_label=False
    )
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert result["macro_f1"] == pytest.approx(sk.f1_score(y, predicted, average="macro"))
    assert result["loss"] == pytest.approx(sk.log_loss(y, probs, labels=range(4)), rel=1e-6)
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y, predicted, labels=range(4), zero_division=0
    )
    assert [row["label"] for row in result["per_label"]] == LABELS
    assert [row["precision"] for row in result["per_label"]] == pytest.approx(precision)
    assert [row["recall"] for row in result["per_label"]] == pytest.approx(recall)
    assert [row["f1"] for row in result["per_label"]] == pytest.approx(f1)
    assert [row["support"] for row in result["per_label"]] == support.tolist()
    assert result["confusion"] == {
        "labels": LABELS,
        "matrix": sk.confusion_matrix(y, predicted, labels=range(4)).tolist(),
    }
    assert result["images"] == 300
    assert "thresholds" not in result


def test_macro_f1_leaves_out_labels_nobody_has_or_predicts():
    """As scikit-learn: a label absent from the truth and the predictions does not count."""
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0], [0.3, 0.7, 0, 0], [0.4, 0.6, 0, 0]])
    result = classification_metrics(
        y_true=y, probabilities=probs, label_ids=LABELS, multi_label=False
    )
    assert result["macro_f1"] == pytest.approx(sk.f1_score(y, probs.argmax(1), average="macro"))


@pytest.mark.parametrize("seed", [0, 1])
def test_multi_label_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.random((200, 4)) < 0.3
    probs = np.clip(0.6 * y + 0.5 * rng.random((200, 4)), 0.01, 0.99)
    thresholds = [0.5, 0.4, 0.6, 0.55]
    predicted = probs >= np.array(thresholds)
    result = classification_metrics(
        y_true=y.astype(float),
        probabilities=probs,
        label_ids=LABELS,
        multi_label=True,
        thresholds=thresholds,
    )
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert result["macro_f1"] == pytest.approx(
        sk.f1_score(y, predicted, average="macro", zero_division=0)
    )
    per_column = [sk.log_loss(y[:, j], probs[:, j], labels=[0, 1]) for j in range(4)]
    assert result["loss"] == pytest.approx(np.mean(per_column), rel=1e-6)
    matrices = sk.multilabel_confusion_matrix(y, predicted)
    assert result["confusion"] == {
        "labels": LABELS,
        "per_label": [m.ravel().tolist() for m in matrices],
    }
    f1 = sk.f1_score(y, predicted, average=None, zero_division=0)
    assert [row["f1"] for row in result["per_label"]] == pytest.approx(f1)
    assert result["thresholds"] == {"7": 0.5, "3": 0.4, "9": 0.6, "12": 0.55}


def test_multi_label_threshold_defaults_to_half():
    result = classification_metrics(
        y_true=[[1, 0]], probabilities=[[0.6, 0.4]], label_ids=[1, 2], multi_label=True
    )
    assert result["thresholds"] == {"1": 0.5, "2": 0.5}
    assert result["accuracy"] == 1.0


def test_ece_by_hand():
    """Five images, in bins closed on their right as calibration_curve's: (0.8, 0.9] holds
    0.9 (right), (0.9, 1.0] holds 1.0 (right) and 0.95 (wrong), (0.5, 0.6] holds 0.6
    (right), (0.6, 0.7] holds 0.7 (right).

    Gaps: 0.1 x 1, |0.975 - 0.5| = 0.475 x 2, 0.4 x 1, 0.3 x 1: ECE = 1.75 / 5 = 0.35.
    """
    probs = np.array([[0.9, 0.1], [1.0, 0.0], [0.05, 0.95], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 0, 0, 0, 1])
    result = classification_metrics(
        y_true=y, probabilities=probs, label_ids=[1, 2], multi_label=False
    )
    assert result["ece"] == pytest.approx(0.35)
    assert expected_calibration_error(np.array([0.25, 0.25]), np.array([0, 1])) == pytest.approx(
        0.25
    )


def test_ece_of_one_bin_is_its_gap():
    assert expected_calibration_error(np.full(10, 0.75), np.array([1] * 7 + [0] * 3)) == (
        pytest.approx(0.05)
    )


def test_no_images_is_an_error():
    with pytest.raises(ValueError):
        classification_metrics(
            y_true=[], probabilities=np.empty((0, 2)), label_ids=[1, 2], multi_label=False
        )


def test_tuned_thresholds_find_the_best_f1():
    """Each tuned threshold's F1 is the best any cut achieves on those images."""
    rng = np.random.default_rng(4)
    y = rng.random((150, 3)) < [0.1, 0.3, 0.5]
    probs = np.clip(0.35 * y + 0.65 * rng.random((150, 3)), 0, 1)
    thresholds = tune_thresholds(y, probs)
    for j, t in enumerate(thresholds):
        tuned = sk.f1_score(y[:, j], probs[:, j] >= t)
        best = max(sk.f1_score(y[:, j], probs[:, j] >= c) for c in np.unique(probs[:, j]))
        assert tuned == pytest.approx(best)
        assert tuned >= sk.f1_score(y[:, j], probs[:, j] >= 0.5)


def test_separable_label_gets_a_separating_threshold():
    y = np.array([[1], [1], [0], [0]])
    probs = np.array([[0.3], [0.25], [0.2], [0.1]])
    assert tune_thresholds(y, probs) == [pytest.approx(0.225)]


def test_label_without_positives_keeps_half():
    assert tune_thresholds(np.zeros((3, 1)), np.array([[0.1], [0.7], [0.2]])) == [0.5]


def test_split_puts_a_share_of_each_label_in_validation():
    ids = list(range(1000, 1200))
    labels = [0] * 150 + [1] * 40 + [2] * 8 + [3] * 2
    train, val = split_stratified(ids, labels, 0.2, seed=0)
    assert sorted(train + val) == ids
    per_label = {label: sum(labels[i - 1000] == label for i in val) for label in range(4)}
    assert per_label == {0: 30, 1: 8, 2: 2, 3: 1}


def test_split_keeps_singletons_in_training():
    train, val = split_stratified([1, 2, 3], [5, 6, 6], 0.5, seed=0)
    assert 1 in train and len(val) == 1


def test_split_is_seeded_and_order_free():
    ids = list(range(100))
    labels = [i % 3 for i in ids]
    _, val = split_stratified(ids, labels, 0.2, seed=1)
    _, again = split_stratified(ids[::-1], labels[::-1], 0.2, seed=1)
    _, other = split_stratified(ids, labels, 0.2, seed=2)
    assert sorted(val) == sorted(again)
    assert sorted(val) != sorted(other)


def test_validation_images_stay_in_validation_as_the_set_grows():
    labels = {i: i % 2 for i in range(400)}
    _, before = split_stratified(list(range(200)), [labels[i] for i in range(200)], 0.2, 0)
    _, after = split_stratified(list(range(400)), [labels[i] for i in range(400)], 0.2, 0)
    assert len(set(before) & set(after)) >= 0.8 * len(before)


def test_multi_label_split_groups_by_the_rarest_label():
    """Images carrying a rare label are split on it, so validation sees the rare label."""
    targets = [[1, 2]] * 4 + [[1]] * 40 + [[]] * 10
    ids = list(range(len(targets)))
    _, val = split_stratified(ids, targets, 0.25, seed=0)
    assert sum(1 for i in val if 2 in targets[i]) == 1
    assert sum(1 for i in val if targets[i] == []) == 2  # round(2.5) == 2


def test_correct_per_image_single_and_multi_label():
    single = correct_per_image(
        y_true=[0, 1, 2],
        probabilities=[[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.1, 0.2, 0.7]],
        multi_label=False,
    )
    assert single.tolist() == [True, False, True]
    y = [[1, 0], [1, 1], [0, 0]]
    probabilities = [[0.7, 0.4], [0.7, 0.4], [0.2, 0.1]]
    multi = correct_per_image(y_true=y, probabilities=probabilities, multi_label=True)
    assert multi.tolist() == [True, False, True]  # every yes/no call must be right
    tuned = correct_per_image(
        y_true=y, probabilities=probabilities, multi_label=True, thresholds=[0.5, 0.3]
    )
    assert tuned.tolist() == [False, True, True]
