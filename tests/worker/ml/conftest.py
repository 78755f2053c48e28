"""Tiny image problems and a fast training config for the ML building blocks' tests."""

from __future__ import annotations

import worker.ml  # noqa: F401 - first, as in the worker: OpenMP's wait policy, then torch

# isort: split
from typing import Any

import pytest
import torch

from labeler.predictions.training_choice import TrainingFacts, training_config_resolve
from labeler.predictions.training_config import training_config_clean

SIZE = 8


def quadrant_images(
    n: int, seed: int, classes: int = 3, size: int = SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (n, 3, size, size) noise images; class k has its k-th quadrant bright (separable)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randint(0, 90, (n, 3, size, size), generator=generator)
    half = size // 2
    for k, (row, col) in enumerate([(0, 0), (0, half), (half, 0), (half, half)][:classes]):
        x[y == k, :, row : row + half, col : col + half] += 160
    return x.clamp(0, 255).to(torch.uint8), y


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """The default config made tiny (8-pixel images, no augmentation, a few epochs) and
    settled as a worker without pretrained weights would (the small CNN, by default)."""
    augment = {"hflip": False, "vflip": False, "rotation": 0, "crop": 0, "color_jitter": 0}
    raw = {"image_size": SIZE, "epochs": 8, "batch_size": 16, "augment": augment}
    return training_config_resolve(training_config_clean({**raw, **overrides}), TrainingFacts())


@pytest.fixture
def toy() -> dict[str, torch.Tensor]:
    """A separable 3-class problem: 60 training and 30 validation images."""
    x_train, y_train = quadrant_images(60, seed=1)
    x_val, y_val = quadrant_images(30, seed=2)
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}
