"""Train a classifier on decoded images: seeded, early-stopped, cancellable.

``fit`` takes uint8 (N, C, H, W) tensors, single-label targets as label indices (N,) or
multi-label targets as multi-hot floats (N, L), and the settled training config
(``labeler.predictions.training_choice``: no "auto" left). With enough validation images it
stops early and keeps the weights of the epoch with the lowest validation loss; with
fewer it trains the whole one-cycle schedule and keeps the last, annealed weights.

On CUDA it trains in mixed precision (float16 with a gradient scaler), with weights and
inputs channels-last, and the next batch copied from pinned memory while the GPU works
(``worker.ml.feed``); on other devices in full precision, as before.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labeler.predictions.evaluation import classification_metrics, tune_thresholds
from labeler.predictions.training_config import AUTO, PER_ARCHITECTURE_KEYS
from worker.ml import batch_norm, feed
from worker.ml.architectures import build, normalisation_for, pretrained_path
from worker.ml.data import Augmenter, to_model_input

_EVAL_BATCH = 256
_MAX_WEIGHT = 50.0
MIN_STEPS_PER_EPOCH = 8
# Below this many validation images, the validation loss is too noisy to choose weights
# by: on a few dozen labels it picks epochs from the one-cycle schedule's high learning
# rates (epoch 5 to 10 of 20 on the digits' first hundred labels), a few points of
# accuracy below the annealed weights at its end. Those runs train every epoch instead.
EARLY_STOPPING_MIN_VALIDATION = 100


class Cancelled(Exception):
    """Training stopped because ``on_epoch`` returned False (a cancel request)."""


class EpochLog(TypedDict):
    """What ``on_epoch`` hears after each epoch."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    # Whose weights the model would keep if training ended now: the lowest validation
    # loss's epoch with early stopping, else this one (the last).
    kept_epoch: NotRequired[int]


@dataclass
class FitResult:
    """The trained model (best epoch's weights, eval mode) and how it got there."""

    model: nn.Module
    history: list[EpochLog]
    best_epoch: int
    val_probabilities: np.ndarray
    thresholds: list[float] | None
    normalisation: dict[str, list[float]]


@dataclass
class _Setup:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    augmenter: Augmenter
    generator: torch.Generator
    normalisation: dict[str, list[float]]
    class_weights: torch.Tensor | None
    sample_weights: torch.Tensor | None


def fit(
    *,
    x_train: torch.Tensor,
    y_train: torch.Tensor | np.ndarray,
    x_val: torch.Tensor,
    y_val: torch.Tensor | np.ndarray,
    multi_label: bool,
    num_labels: int,
    config: dict[str, Any],
    device: torch.device | str,
    on_epoch: Callable[[EpochLog], bool],
    on_batch: Callable[[], bool] | None = None,
    keep_last: bool = False,
    pretrained_dir: str | None = None,
) -> FitResult:
    """Train, validating each epoch; stop early after ``patience`` epochs without progress.

    ``on_batch`` is called after every training and validation batch (a heartbeat: an
    epoch over tens of thousands of photos lasts far longer than a worker may stay
    silent); training stops with ``Cancelled`` as soon as it returns False.

    Early stopping (and restoring the best epoch) needs at least
    ``EARLY_STOPPING_MIN_VALIDATION`` validation images; with fewer, every epoch runs and
    the last one's weights are kept. Raises ``Cancelled`` as soon as ``on_epoch`` returns
    False. ``keep_last``: every epoch runs and the last one's weights are kept whatever
    the validation images, which then only get predicted (the held-out fold of a
    cross-fit, whose labels must not choose the model). ``pretrained_dir``: where a
    pretrained backbone's weights are (``architectures.pretrained_path``).
    """
    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError("Training needs at least one training and one validation image.")
    _settled_check(config)
    device = torch.device(device)
    y_train, y_val = torch.as_tensor(y_train), torch.as_tensor(y_val)
    weights = pretrained_path(config, pretrained_dir)
    setup = _setup(x_train, y_train, multi_label, num_labels, config, device, weights)
    history: list[EpochLog] = []
    early_stopping = not keep_last and len(x_val) >= EARLY_STOPPING_MIN_VALIDATION
    best_loss, best_epoch = float("inf"), 0
    best_state: dict[str, torch.Tensor] = {}
    best_probs = np.empty((0, num_labels))
    for epoch in range(1, config["epochs"] + 1):
        train_loss = _train_epoch(setup, x_train, y_train, multi_label, config, device, on_batch)
        if config["batch_norm"] == "recalibrate":
            _recalibrate(setup, x_train, config["batch_size"], device, on_batch)
        probs, val_loss = _predict(setup, x_val, y_val, multi_label, device, on_batch)
        log = _epoch_log(epoch, config["epochs"], train_loss, val_loss, probs, y_val, multi_label)
        history.append(log)
        if not early_stopping:
            best_loss, best_epoch, best_probs = val_loss, epoch, probs
        elif val_loss < best_loss:
            best_loss, best_epoch, best_probs = val_loss, epoch, probs
            best_state = copy.deepcopy(setup.model.state_dict())
        log["kept_epoch"] = best_epoch
        if on_epoch(log) is False:
            raise Cancelled(f"Training cancelled after epoch {epoch}.")
        if early_stopping and epoch - best_epoch >= config["patience"]:
            break
    if early_stopping:
        setup.model.load_state_dict(best_state)
    setup.model.eval()
    thresholds = tune_thresholds(y_val.numpy(), best_probs) if multi_label else None
    return FitResult(setup.model, history, best_epoch, best_probs, thresholds, setup.normalisation)


def _settled_check(config: dict[str, Any]) -> None:
    open_keys = [key for key in PER_ARCHITECTURE_KEYS if config.get(key) is None]
    open_keys += [key for key in ("architecture", "batch_norm") if config.get(key, AUTO) == AUTO]
    if open_keys:
        raise ValueError(
            f"The training config leaves {', '.join(open_keys)} open: settle it first "
            "(labeler.predictions.training_choice.training_config_resolve)."
        )


def _setup(
    x: torch.Tensor,
    y: torch.Tensor,
    multi_label: bool,
    num_labels: int,
    config: dict[str, Any],
    device: torch.device,
    pretrained: str | None = None,
) -> _Setup:
    torch.manual_seed(config["seed"])  # the weights' initialisation
    architecture, channels = config["architecture"], int(x.shape[1])
    model = build(architecture, num_labels, channels, config["image_size"], pretrained)
    model = model.to(device)
    if device.type == "cuda":
        # Tensor cores read NHWC; cuDNN picks the fastest kernels for the fixed input size.
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    optimizer = torch.optim.AdamW(
        _parameter_groups(model, config["weight_decay"]), lr=config["learning_rate"]
    )
    steps = config["epochs"] * (_steps_per_epoch(len(x), config["batch_size"]) + 1)
    counts = _label_counts(y, multi_label, num_labels)
    balance = config["balance"]
    return _Setup(
        model=model,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config["learning_rate"],
            total_steps=steps,
            pct_start=max(config["warmup"], 1 / steps),
        ),
        scaler=torch.amp.GradScaler("cuda", enabled=device.type == "cuda"),
        augmenter=Augmenter(config["augment"]),
        generator=torch.Generator().manual_seed(config["seed"]),
        normalisation=normalisation_for(architecture, channels),
        class_weights=_class_weights(counts, len(y), multi_label, device)
        if balance == "weighted_loss"
        else None,
        sample_weights=_sample_weights(y, counts, multi_label) if balance == "sampler" else None,
    )


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on the weights of convolutions and linear layers only: decaying the
    norms' scales and the biases towards 0 only fights their normalisation."""
    decayed: list[nn.Parameter] = []
    kept: list[nn.Parameter] = []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decayed if parameter.ndim > 1 else kept).append(parameter)
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]


def _label_counts(y: torch.Tensor, multi_label: bool, num_labels: int) -> torch.Tensor:
    if multi_label:
        return (y > 0).sum(0).double()
    return torch.bincount(y, minlength=num_labels).double()


def _class_weights(
    counts: torch.Tensor, total: int, multi_label: bool, device: torch.device
) -> torch.Tensor:
    """Single-label: inverse label frequency; multi-label: BCE's positive weight neg/pos."""
    seen = counts.clamp(min=1)
    if multi_label:
        weights = ((total - counts) / seen).clamp(1.0, _MAX_WEIGHT)
    else:
        weights = (total / (int((counts > 0).sum()) * seen)).clamp(max=_MAX_WEIGHT)
    return weights.float().to(device)


def _sample_weights(y: torch.Tensor, counts: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """Each image drawn in inverse proportion to its (rarest) label's frequency."""
    if not multi_label:
        return 1.0 / counts[y].clamp(min=1)
    positive = y > 0
    rarest = torch.where(positive, counts.expand_as(y), torch.inf).min(1).values
    none_count = max(1, int((~positive.any(1)).sum()))
    return 1.0 / torch.where(torch.isinf(rarest), float(none_count), rarest)


def _steps_per_epoch(n: int, batch_size: int) -> int:
    """At least MIN_STEPS_PER_EPOCH: on a few dozen images one pass is a single step, too few
    for the weights (and batch norm's running statistics) to move between validations."""
    return max(MIN_STEPS_PER_EPOCH, -(-n // batch_size))


def _batches(setup: _Setup, n: int, batch_size: int) -> list[torch.Tensor]:
    steps = _steps_per_epoch(n, batch_size)
    draws = max(n, steps * min(n, batch_size))
    if setup.sample_weights is not None:
        order = torch.multinomial(setup.sample_weights, draws, True, generator=setup.generator)
    else:
        passes = -(-draws // n)
        order = torch.cat([torch.randperm(n, generator=setup.generator) for _ in range(passes)])
        order = order[:draws]
    batches = list(order.split(min(n, batch_size)))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()  # batch norm cannot train on a single image
    return batches


def _train_epoch(
    setup: _Setup,
    x: torch.Tensor,
    y: torch.Tensor,
    multi_label: bool,
    config: dict[str, Any],
    device: torch.device,
    on_batch: Callable[[], bool] | None = None,
) -> float:
    batch_norm.train_mode(setup.model, config["batch_norm"])
    # The loss is summed on the device and read once: reading it every step would make
    # the CPU wait for the GPU, and the next batch could not be staged meanwhile.
    total, seen = torch.zeros((), device=device), 0
    order = _batches(setup, len(x), config["batch_size"])
    for batch, (images, targets) in enumerate(feed.batches(x, y, order, device), start=1):
        if batch > 1 and on_batch is not None and on_batch() is False:
            raise Cancelled(f"Training cancelled during an epoch, after {batch - 1} batch(es).")
        inputs = to_model_input(
            images,
            device=device,
            normalisation=setup.normalisation,
            augmenter=setup.augmenter,
            generator=setup.generator,
        )
        with _autocast(device):
            loss = _loss(setup.model(_layout(inputs)), targets, multi_label, setup.class_weights)
        setup.optimizer.zero_grad(set_to_none=True)
        setup.scaler.scale(loss).backward()
        setup.scaler.step(setup.optimizer)
        setup.scaler.update()
        setup.scheduler.step()
        total += loss.detach().float() * len(images)
        seen += len(images)
    return float(total) / max(seen, 1)


def _recalibrate(
    setup: _Setup,
    x: torch.Tensor,
    batch_size: int,
    device: torch.device,
    on_batch: Callable[[], bool] | None,
) -> None:
    """Batch norm statistics measured again on up to RECALIBRATE_IMAGES training images,
    as validation and prediction see them: not augmented."""
    count = min(len(x), batch_norm.RECALIBRATE_IMAGES)
    chosen = torch.randperm(len(x), generator=setup.generator)[:count]
    size = max(2, min(batch_size, count))

    def inputs() -> Iterator[torch.Tensor]:
        for start in range(0, count, size):
            images = x[chosen[start : start + size]]
            batch = to_model_input(images, device=device, normalisation=setup.normalisation)
            yield _layout(batch)

    with _autocast(device):
        batch_norm.recalibrate(setup.model, inputs(), beat=on_batch)


def _loss(
    logits: torch.Tensor, targets: torch.Tensor, multi_label: bool, weights: torch.Tensor | None
) -> torch.Tensor:
    logits = logits.float()
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, targets.float(), pos_weight=weights)
    return F.cross_entropy(logits, targets, weight=weights)


def _predict(
    setup: _Setup,
    x: torch.Tensor,
    y: torch.Tensor,
    multi_label: bool,
    device: torch.device,
    on_batch: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, float]:
    """Probabilities (N, L) and the unweighted mean loss on the validation images."""
    setup.model.eval()
    parts, total = [], 0.0
    with torch.inference_mode():
        for start in range(0, len(x), _EVAL_BATCH):
            if start and on_batch is not None and on_batch() is False:
                raise Cancelled("Training cancelled while it validated.")
            inputs = to_model_input(
                x[start : start + _EVAL_BATCH], device=device, normalisation=setup.normalisation
            )
            with _autocast(device):
                logits = setup.model(_layout(inputs)).float()
            targets = y[start : start + _EVAL_BATCH].to(device)
            total += float(_loss(logits, targets, multi_label, None)) * len(inputs)
            probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, 1)
            parts.append(probs.cpu().numpy())
    return np.concatenate(parts).astype(np.float64), total / len(x)


def _epoch_log(
    epoch: int,
    epochs: int,
    train_loss: float,
    val_loss: float,
    probs: np.ndarray,
    y_val: torch.Tensor,
    multi_label: bool,
) -> EpochLog:
    metrics = classification_metrics(
        y_true=y_val.numpy(),
        probabilities=probs,
        label_ids=list(range(probs.shape[1])),
        multi_label=multi_label,
    )
    return EpochLog(
        epoch=epoch,
        epochs=epochs,
        train_loss=train_loss,
        val_loss=val_loss,
        val_accuracy=metrics["accuracy"],
        val_macro_f1=metrics["macro_f1"],
    )


def _layout(inputs: torch.Tensor) -> torch.Tensor:
    """Channels-last inputs on CUDA, as the model's weights there; as they are elsewhere."""
    if inputs.device.type == "cuda":
        return inputs.contiguous(memory_format=torch.channels_last)
    return inputs


def _autocast(device: torch.device) -> Any:
    """Mixed precision on CUDA only; full precision everywhere else."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return nullcontext()
