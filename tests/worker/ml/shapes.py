"""Generated photo-like images: coloured shapes on noise, a small separable problem."""

from __future__ import annotations

import numpy as np
import torch

COLOURS = ((220, 40, 40), (40, 200, 40), (40, 60, 230), (230, 210, 40))


def shape_images(n: int, seed: int, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (n, 3, size, size) noise images and their class (n,), 4 classes: a red disc,
    a green square, a blue disc and a yellow square, each of random size and place."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(COLOURS)
    x = rng.integers(0, 80, (n, size, size, 3)).astype(np.uint8)
    rows, cols = np.mgrid[0:size, 0:size]
    for i, k in enumerate(y):
        radius = rng.integers(size // 6, size // 3)
        cy, cx = rng.integers(radius, size - radius, 2)
        if k % 2 == 0:
            mask = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius * radius
        else:
            mask = (abs(rows - cy) <= radius) & (abs(cols - cx) <= radius)
        x[i][mask] = COLOURS[k]
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)
