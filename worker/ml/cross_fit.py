"""Out-of-sample probabilities by k-fold cross-fitting: every image predicted by a model
that never trained on it.

The images are split into ``folds`` stratified folds; for each fold a model is trained on
all the others (the run's recipe, ``epochs`` maybe fewer) and predicts the held-out one.
The fold models train every epoch and keep their last weights (``fit(keep_last=True)``):
the held-out labels, which may be the wrong ones being looked for, never choose an epoch.
Single-label (label indexes) or multi-label (multi-hot rows). Knows tensors and arrays,
never the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from worker.ml.training import Cancelled, EpochLog, fit

# Trains on ``train`` rows and returns the probabilities (len(held_out), L) of the
# ``held_out`` rows; the seam the structural test of out-of-sample-ness uses.
FitFold = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CrossFit:
    """Out-of-sample probabilities: row ``i`` came from fold ``fold_of[i]``'s model, which
    trained on exactly the rows whose fold differs (``trained_on[f]``)."""

    probabilities: np.ndarray  # (N, L)
    fold_of: np.ndarray  # (N,) the fold that held each row out
    trained_on: list[np.ndarray]  # per fold, the rows its model trained on
    seconds: float
    cpu_seconds: float


def strata(y: np.ndarray) -> np.ndarray:
    """What folds are stratified by: the label of a single-label row; a multi-label row's
    (multi-hot) rarest label, so that every label is spread over the folds, and one stratum
    more for rows with no label at all."""
    if y.ndim == 1:
        return y
    counts = y.sum(0)
    rarest = np.where(y > 0, counts[None, :], np.inf).argmin(1)
    return np.where(y.sum(1) > 0, rarest, y.shape[1]).astype(np.int64)


def fold_assignment(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's fold, stratified by label (``strata``; a label with fewer rows than folds
    is spread over as many folds as it has rows)."""
    y = strata(y)
    counts = np.bincount(y)
    if counts[counts > 0].min() >= folds:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        fold_of = np.empty(len(y), dtype=np.int64)
        for fold, (_, held) in enumerate(splitter.split(np.zeros(len(y)), y)):
            fold_of[held] = fold
        return fold_of
    # StratifiedKFold warns (and may leave a fold without some label); deal by hand.
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    start = 0
    for label in np.flatnonzero(counts):
        rows = rng.permutation(np.flatnonzero(y == label))
        fold_of[rows] = (start + np.arange(len(rows))) % folds
        start += len(rows)
    return fold_of


def groups_together(fold_of: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Each near-duplicate group (``groups[i]``, -1 for none) moved wholly into the fold of
    its first row: a model never trains on a copy of an image it predicts."""
    if groups is None:
        return fold_of
    fold_of = fold_of.copy()
    grouped = np.flatnonzero(groups >= 0)
    _, first = np.unique(groups[grouped], return_index=True)
    heads = grouped[first]
    fold_of_group = dict(zip(groups[heads].tolist(), fold_of[heads].tolist(), strict=True))
    fold_of[grouped] = [fold_of_group[g] for g in groups[grouped].tolist()]
    return fold_of


def cross_fit(
    y: np.ndarray,
    *,
    folds: int,
    seed: int,
    fit_fold: FitFold,
    num_labels: int,
    groups: np.ndarray | None = None,
) -> CrossFit:
    """Train ``folds`` models with ``fit_fold`` and gather each row's held-out prediction.

    ``groups``: each row's near-duplicate group (-1: none); a group stays in one fold.
    """
    if folds < 2 or len(y) < folds:
        raise ValueError(f"Cross-fitting needs 2 or more folds and as many rows (got {folds}).")
    started, cpu_started = time.perf_counter(), time.process_time()
    fold_of = groups_together(fold_assignment(y, folds, seed), groups)
    probabilities = np.full((len(y), num_labels), np.nan)
    trained_on = []
    for fold in range(folds):
        held = np.flatnonzero(fold_of == fold)
        train = np.flatnonzero(fold_of != fold)
        trained_on.append(train)
        if len(held):
            probabilities[held] = fit_fold(train, held)
    return CrossFit(
        probabilities=probabilities,
        fold_of=fold_of,
        trained_on=trained_on,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )


def fold_epochs(config: dict[str, Any]) -> int:
    """The fold models' epochs: ``label_check_epochs`` when set, else half the run's own
    (rounded up), never more than the run's. Half is what ``bench/label_errors.py``
    measured: fewer epochs fit the other folds' wrong labels less and cost half."""
    run = int(config["epochs"])
    chosen = config.get("label_check_epochs")
    return min(int(chosen), run) if chosen else max(1, (run + 1) // 2)


def torch_fit_fold(
    images: torch.Tensor,
    y: np.ndarray,
    *,
    num_labels: int,
    config: dict[str, Any],
    device: torch.device | str,
    beat: Callable[[], bool] | None = None,
    pretrained_dir: str | None = None,
) -> FitFold:
    """A ``FitFold`` training the settled ``config`` for ``fold_epochs`` on uint8 images
    and label indexes (multi-hot rows: a multi-label model, each label's probability);
    ``pretrained_dir``: where a pretrained backbone's weights are, as for ``fit``."""
    fold_config = {**config, "epochs": fold_epochs(config)}
    multi_label = y.ndim == 2
    targets = torch.as_tensor(y, dtype=torch.float32 if multi_label else torch.int64)

    def on_epoch(log: EpochLog) -> bool:
        return beat() if beat is not None else True

    def fit_fold(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        train_t, held_t = torch.as_tensor(train), torch.as_tensor(held)
        result = fit(
            x_train=images[train_t],
            y_train=targets[train_t],
            x_val=images[held_t],
            y_val=targets[held_t],
            multi_label=multi_label,
            num_labels=num_labels,
            config=fold_config,
            device=device,
            on_epoch=on_epoch,
            on_batch=beat,
            keep_last=True,
            pretrained_dir=pretrained_dir,
        )
        return result.val_probabilities

    return fit_fold


__all__ = [
    "Cancelled",
    "CrossFit",
    "cross_fit",
    "fold_assignment",
    "groups_together",
    "torch_fit_fold",
]
