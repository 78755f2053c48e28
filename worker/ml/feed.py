"""Training batches from images held in memory, on the model's device before it asks.

The images are decoded once, before the first epoch, from the kept model inputs
(``labeler.images.pixels.model_inputs``: a 12-megapixel photo is decoded once in its life at
each input size), into one uint8 (N, C, H, W) tensor: 150 KB an image at 224 pixels.
An epoch then only gathers rows of it. On the CPU that is all (a batch of 32 at 224
pixels gathers in about a millisecond, beside seconds of training step). On CUDA the
next batch is gathered into pinned memory and copied on a stream of its own while the
GPU works on the current one, so the copy never holds the model up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch


@dataclass
class _Staged:
    images: torch.Tensor  # uint8, on the device
    targets: torch.Tensor
    done: torch.cuda.Event  # the copy's end, on the copy stream


def batches(
    x: torch.Tensor, y: torch.Tensor, order: Sequence[torch.Tensor], device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images, targets) on ``device`` for each index tensor in ``order``."""
    if device.type != "cuda":
        for index in order:
            yield x[index].to(device), y[index].to(device)
        return
    yield from _CudaFeed(x, y, device).run(order)


class _CudaFeed:
    """Two pinned buffers in turn: one being copied to the GPU while the other is used."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> None:
        self.x, self.device = x, device
        self.y = y.to(device)  # the targets are small: on the GPU once
        self.stream = torch.cuda.Stream(device)
        self.buffers: list[torch.Tensor] = []
        self.copies: list[torch.cuda.Event | None] = [None, None]

    def run(self, order: Sequence[torch.Tensor]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not order:
            return
        largest = max(len(index) for index in order)
        shape = (largest, *self.x.shape[1:])
        self.buffers = [torch.empty(shape, dtype=self.x.dtype).pin_memory() for _ in range(2)]
        self.stream.wait_stream(torch.cuda.current_stream(self.device))  # the targets' copy
        staged = self._stage(order[0], 0)
        for number in range(len(order)):
            following = None
            if number + 1 < len(order):
                following = self._stage(order[number + 1], (number + 1) % 2)
            current = torch.cuda.current_stream(self.device)
            current.wait_event(staged.done)
            staged.images.record_stream(current)  # freed only once the model used it
            yield staged.images, staged.targets
            if following is not None:
                staged = following

    def _stage(self, index: torch.Tensor, slot: int) -> _Staged:
        earlier = self.copies[slot]
        if earlier is not None:
            earlier.synchronize()  # this buffer's last copy is over before it is refilled
        buffer = self.buffers[slot][: len(index)]
        torch.index_select(self.x, 0, index, out=buffer)
        with torch.cuda.stream(self.stream):
            images = buffer.to(self.device, non_blocking=True)
            targets = self.y[index.to(self.device, non_blocking=True)]
            done = torch.cuda.Event()
            done.record(self.stream)
        self.copies[slot] = done
        return _Staged(images=images, targets=targets, done=done)
