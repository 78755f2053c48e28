"""Training batches: the rows asked for, on the device asked for."""

from __future__ import annotations

import pytest
import torch

from worker.ml import feed


def test_cpu_batches_are_the_rows_asked_for():
    x = torch.arange(10 * 3 * 2 * 2, dtype=torch.uint8).view(10, 3, 2, 2)
    y = torch.arange(10) * 7
    order = [torch.tensor([3, 1, 4]), torch.tensor([9, 0])]
    got = list(feed.batches(x, y, order, torch.device("cpu")))
    assert [len(images) for images, _ in got] == [3, 2]
    for (images, targets), index in zip(got, order, strict=True):
        assert torch.equal(images, x[index]) and torch.equal(targets, y[index])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batches_come_through_pinned_memory_unchanged():
    """Staged one ahead in two pinned buffers: every batch arrives whole, none overwritten."""
    x = torch.randint(0, 255, (100, 3, 16, 16), dtype=torch.uint8)
    y = torch.randint(0, 4, (100,))
    order = list(torch.randperm(100).split(16))
    device = torch.device("cuda")
    for (images, targets), index in zip(feed.batches(x, y, order, device), order, strict=True):
        assert images.device.type == "cuda" and targets.device.type == "cuda"
        torch.cuda.synchronize()
        assert torch.equal(images.cpu(), x[index]) and torch.equal(targets.cpu(), y[index])
