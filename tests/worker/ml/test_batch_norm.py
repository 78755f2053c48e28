"""Batch norm statistics: measured again on the training images, or kept frozen."""

from __future__ import annotations

import torch
from torch import nn

from worker.ml import batch_norm


def network() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4))


def test_recalibrate_measures_the_statistics_of_the_images_it_sees():
    """After recalibrating, eval mode normalises the images as training mode would."""
    model = network()
    norm = model[1]
    norm.running_mean.fill_(50.0)  # stale figures, as after fast-moving weights
    images = torch.randn(64, 3, 8, 8) * 3 + 2
    seen = batch_norm.recalibrate(model, images.split(16))
    assert seen == 64
    features = model[0](images)
    assert torch.allclose(norm.running_mean, features.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(norm.running_var, features.var((0, 2, 3)), rtol=0.05)
    assert not model.training
    assert norm.momentum == 0.1  # its own again, for further training


def test_nothing_to_measure_leaves_the_statistics_alone():
    model = network()
    before = model[1].running_mean.clone().fill_(3.0)
    model[1].running_mean.copy_(before)
    assert batch_norm.recalibrate(model, [torch.randn(1, 3, 8, 8)]) == 0
    assert torch.equal(model[1].running_mean, before)


def test_frozen_norms_stay_in_eval_mode_while_the_rest_trains():
    model = network()
    batch_norm.train_mode(model, "frozen")
    assert model.training and model[0].training
    assert not any(layer.training for layer in batch_norm.norm_layers(model))
    before = model[1].running_mean.clone()
    model(torch.randn(8, 3, 8, 8) + 5)
    assert torch.equal(model[1].running_mean, before)
    batch_norm.train_mode(model, "recalibrate")
    assert all(layer.training for layer in batch_norm.norm_layers(model))
