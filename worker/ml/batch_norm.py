"""Batch norm during fine-tuning: train its statistics, keep them frozen, or measure them again.

A batch norm layer normalises by the batch's statistics while it trains and by running
averages of them once in eval mode. When the weights before it change faster than those
averages follow (MobileNetV3's and EfficientNet's depthwise convolutions, from random
weights, over a few hundred steps), eval mode normalises by stale figures and the
network predicts one class for everything while its training loss falls. Measuring the
statistics again with the weights as they are ("precise batch norm") fixes that; with
tiny batches a pretrained network keeps its ImageNet statistics instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

Norm = nn.modules.batchnorm._BatchNorm
# Enough images for the statistics to settle (a few batches), few enough that measuring
# them again costs a fraction of an epoch.
RECALIBRATE_IMAGES = 512


def norm_layers(model: nn.Module) -> list[Norm]:
    """The model's batch norm layers."""
    return [module for module in model.modules() if isinstance(module, Norm)]


def train_mode(model: nn.Module, batch_norm: str) -> None:
    """Training mode; with ``batch_norm`` "frozen" the norm layers stay in eval mode, so
    they normalise by (and keep) their pretrained statistics while their scale trains."""
    model.train()
    if batch_norm == "frozen":
        for layer in norm_layers(model):
            layer.eval()


def recalibrate(
    model: nn.Module,
    batches: Iterable[torch.Tensor],
    beat: Callable[[], object] | None = None,
) -> int:
    """Measure every batch norm's statistics again over ``batches`` (model inputs, not
    augmented), as an equal-weight average; the model is left in eval mode.

    Returns how many images were seen (0: the model has no batch norm, nothing done).
    """
    layers = norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    before = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches below
    model.train()
    seen = 0
    try:
        with torch.no_grad():
            for inputs in batches:
                if len(inputs) < 2:
                    continue  # a batch of one has no variance to measure
                model(inputs)
                seen += len(inputs)
                if beat is not None:
                    beat()
    finally:
        for layer, momentum, buffers in zip(layers, momenta, before, strict=True):
            layer.momentum = momentum
            if not seen:  # nothing measured: the statistics it had stand
                layer.load_state_dict(buffers)
        model.eval()
    return seen
