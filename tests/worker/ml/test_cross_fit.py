"""Cross-fitting: every image's probabilities come from a model that never trained on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worker.ml.cross_fit import cross_fit, fold_assignment, fold_epochs, torch_fit_fold


def test_each_row_is_predicted_by_the_one_model_that_held_it_out():
    """A recording fit: every model answers with its own number; each row's answer is the
    number of a model whose training rows leave the row out, and every row has one."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 103)
    seen: list[np.ndarray] = []

    def fit_fold(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        assert not set(train.tolist()) & set(held.tolist())
        seen.append(train.copy())
        out = np.zeros((len(held), 8))
        out[:, len(seen) - 1] = 1.0  # "I am model number len(seen) - 1"
        return out

    result = cross_fit(y, folds=5, seed=0, fit_fold=fit_fold, num_labels=8)
    assert len(seen) == 5 and not np.isnan(result.probabilities).any()
    model_of = result.probabilities.argmax(1)
    for row in range(len(y)):
        model = model_of[row]
        assert row not in set(seen[model].tolist())
        assert model == result.fold_of[row]
        assert np.array_equal(result.trained_on[model], seen[model])
    # Each model trained on every row except its own fold's.
    for fold, train in enumerate(seen):
        assert set(train.tolist()) == set(np.flatnonzero(result.fold_of != fold).tolist())


def test_folds_are_stratified_and_a_rare_label_is_spread():
    y = np.array([0] * 50 + [1] * 50 + [2] * 2)
    fold_of = fold_assignment(y, 5, seed=1)
    for label in (0, 1):
        assert np.bincount(fold_of[y == label], minlength=5).tolist() == [10] * 5
    assert len(set(fold_of[y == 2].tolist())) == 2
    # The same seed, the same folds.
    assert np.array_equal(fold_of, fold_assignment(y, 5, seed=1))


def test_too_few_rows_or_folds_is_refused():
    with pytest.raises(ValueError):
        cross_fit(np.array([0, 1]), folds=3, seed=0, fit_fold=lambda t, h: h, num_labels=2)
    with pytest.raises(ValueError):
        cross_fit(np.array([0, 1, 0]), folds=1, seed=0, fit_fold=lambda t, h: h, num_labels=2)


CONFIG = {
    "architecture": "small-cnn",
    "pretrained": False,
    "image_size": 8,
    "grayscale": False,
    "epochs": 6,
    "patience": 6,
    "batch_size": 8,
    "learning_rate": 0.01,
    "warmup": 0.15,
    "batch_norm": "train",
    "weight_decay": 1e-4,
    "validation_share": 0.25,
    "seed": 0,
    "balance": "weighted_loss",
    "label_check_folds": 3,
    "label_check_epochs": 4,
    "augment": {"hflip": False, "vflip": False, "rotation": 0, "crop": 0, "color_jitter": 0},
}


@pytest.mark.slow
def test_a_planted_flip_gets_a_low_probability_out_of_sample():
    """Torch, for real: two colours, one image labelled the other colour; its held-out
    probability of the given label is low, the others' high."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 15)
    images = rng.integers(0, 40, (30, 3, 8, 8))
    images[y == 0, 0] += 200
    images[y == 1, 2] += 200
    given = y.copy()
    given[4] = 1  # a red image labelled blue
    fit_fold = torch_fit_fold(
        torch.as_tensor(images.astype(np.uint8)), given, num_labels=2, config=CONFIG, device="cpu"
    )
    result = cross_fit(given, folds=3, seed=0, fit_fold=fit_fold, num_labels=2)
    assert np.allclose(result.probabilities.sum(1), 1.0, atol=1e-4)
    of_given = result.probabilities[np.arange(30), given]
    assert of_given[4] < 0.5
    assert np.median(np.delete(of_given, 4)) > 0.8


def test_a_near_duplicate_group_stays_in_one_fold():
    """Copies of an image are held out together: no model trains on a copy of what it
    predicts."""
    y = np.array([0, 1] * 30)
    groups = np.full(60, -1)
    groups[[0, 7, 13, 40]] = 100
    groups[[2, 3]] = 200
    seen: list[np.ndarray] = []

    def fit_fold(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        seen.append(train)
        return np.full((len(held), 2), 0.5)

    result = cross_fit(y, folds=5, seed=3, fit_fold=fit_fold, num_labels=2, groups=groups)
    assert len(set(result.fold_of[[0, 7, 13, 40]].tolist())) == 1
    assert result.fold_of[2] == result.fold_of[3]
    for row in (0, 7, 13, 40):
        assert not set(seen[result.fold_of[row]].tolist()) & {0, 7, 13, 40}


def test_fold_epochs_default_to_half_the_runs_and_never_exceed_it():
    assert fold_epochs({"epochs": 20, "label_check_epochs": None}) == 10
    assert fold_epochs({"epochs": 7}) == 4
    assert fold_epochs({"epochs": 1, "label_check_epochs": None}) == 1
    assert fold_epochs({"epochs": 20, "label_check_epochs": 6}) == 6
    assert fold_epochs({"epochs": 5, "label_check_epochs": 50}) == 5


def test_multi_label_rows_are_spread_over_the_folds_by_their_rarest_label():
    """Label 2 is on 6 rows only, each of which also carries the common label 0: every
    fold holds some of them, and the rows with no label are spread too."""
    y = np.zeros((60, 3), dtype=np.float32)
    y[:40, 0] = 1
    y[40:50, 1] = 1
    y[:6, 2] = 1
    fold_of = fold_assignment(y, 3, seed=0)
    for label in range(3):
        assert set(fold_of[y[:, label] > 0]) == {0, 1, 2}
    assert set(fold_of[y.sum(1) == 0]) == {0, 1, 2}


def test_a_pretrained_fold_takes_its_weights_from_the_folder_the_worker_passes(
    monkeypatch, tmp_path
):
    """The label check's folds fine-tune from the worker's folder of ImageNet weights,
    as its training did, not from whatever the environment says (here: nothing)."""
    import torchvision

    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(),
               tmp_path / "mobilenet_v3_small.pth")  # fmt: skip
    monkeypatch.delenv("LABELER_PRETRAINED_DIR", raising=False)
    config = {**CONFIG, "architecture": "mobilenet_v3_small", "pretrained": True}
    images = torch.randint(0, 255, (12, 3, 32, 32), dtype=torch.uint8)
    y = np.arange(12) % 2
    fit_fold = torch_fit_fold(
        images, y, num_labels=2, config=config, device="cpu", pretrained_dir=str(tmp_path)
    )
    held = fit_fold(np.arange(8), np.arange(8, 12))
    assert held.shape == (4, 2)
    without = torch_fit_fold(images, y, num_labels=2, config=config, device="cpu")
    with pytest.raises(FileNotFoundError, match="LABELER_PRETRAINED_DIR"):
        without(np.arange(8), np.arange(8, 12))
