"""JPEG photos decoded on the GPU (nvJPEG), for pre-labelling images not yet kept as inputs.

A 12-megapixel JPEG costs a CPU core 15 to 40 ms even at a reduced scale; a GPU worker
has a few cores per GPU and a forward pass of a fraction of a millisecond an image, so
on a pass over new photos the CPU decoding is what the GPU waits for. nvJPEG decodes a
batch of them on the GPU itself; they are turned upright by their EXIF orientation
(read from the header by PIL: torchvision applies it on the CPU only), squashed to the
input size with an antialiased bilinear filter, and come back as uint8 arrays.

The pixels are within a few levels of PIL's (``prepare_image``: another resampling
filter), close enough to predict from, not the same: they are not kept in the input
cache, whose inputs a training reads and must be the CPU's, byte for byte.

torchvision marks its image decoders deprecated from 0.29 in favour of TorchCodec; this
module is where a move to it would happen.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from labeler.images.pixels.decoding import TURNS, image_orientation
from worker.ml.config import env_bool

logger = logging.getLogger(__name__)


@functools.cache
def torchvision_io() -> Any | None:
    """torchvision's image ops (``decode_jpeg``, ``ImageReadMode``), imported when first
    wanted: a worker that never decodes on the GPU (the default) starts without them.
    None without torchvision, or with one built for another torch (its operators fail
    to load): PIL decodes every file then, and training and pre-labelling go on."""
    try:
        from torchvision import io
    except ImportError:
        return None
    except RuntimeError as exc:
        logger.warning("torchvision does not load beside this torch (%s): PIL decodes", exc)
        return None
    return io


# Photos decoded together: 32 12-megapixel RGB images take 1.2 GB of GPU memory at once.
GPU_DECODE_BATCH = 32
_T = PILImage.Transpose
_TURN_OPS: dict[PILImage.Transpose, Callable[[torch.Tensor], torch.Tensor]] = {
    _T.FLIP_LEFT_RIGHT: lambda t: t.flip(-1),
    _T.FLIP_TOP_BOTTOM: lambda t: t.flip(-2),
    _T.ROTATE_180: lambda t: t.flip(-1).flip(-2),
    _T.ROTATE_90: lambda t: torch.rot90(t, 1, (-2, -1)),  # PIL's turns counter-clockwise
    _T.ROTATE_270: lambda t: torch.rot90(t, -1, (-2, -1)),
    _T.TRANSPOSE: lambda t: t.transpose(-2, -1),
    _T.TRANSVERSE: lambda t: t.transpose(-2, -1).flip(-1).flip(-2),
}


def gpu_decode_wanted(device: torch.device, wanted: bool | None = None) -> bool:
    """Whether cache misses are decoded on this device: CUDA with torchvision's image
    ops, when ``wanted`` (the worker passes its ``LABELER_GPU_DECODE`` setting; None: the
    environment's) is on. Off by default: on an H200 the pipeline with nvJPEG pre-labelled
    new photos at 0.43x the pace of 16 CPU threads decoding them (docs/benchmarks.md)."""
    if wanted is None:
        wanted = env_bool("LABELER_GPU_DECODE", False)
    return device.type == "cuda" and wanted and torchvision_io() is not None


def jpeg_decoder(
    device: torch.device, *, image_size: int, grayscale: bool
) -> Callable[[Sequence[bytes]], list[np.ndarray | None]]:
    """``decode_jpegs`` bound to a device and an input size (``data.JpegDecoder``)."""

    def decode(contents: Sequence[bytes]) -> list[np.ndarray | None]:
        return decode_jpegs(contents, device=device, image_size=image_size, grayscale=grayscale)

    return decode


def decode_jpegs(
    contents: Sequence[bytes], *, device: torch.device, image_size: int, grayscale: bool
) -> list[np.ndarray | None]:
    """Each JPEG as a uint8 (C, image_size, image_size) array, upright; None for a file
    the decoder refuses (the caller decodes those with PIL). Works on any device: the
    CPU runs the same steps with libjpeg, which the tests use."""
    out: list[np.ndarray | None] = []
    for start in range(0, len(contents), GPU_DECODE_BATCH):
        out.extend(
            _batch(contents[start : start + GPU_DECODE_BATCH], device, image_size, grayscale)
        )
    return out


def _batch(
    contents: Sequence[bytes], device: torch.device, image_size: int, grayscale: bool
) -> list[np.ndarray | None]:
    io = torchvision_io()
    assert io is not None
    mode = io.ImageReadMode.GRAY if grayscale else io.ImageReadMode.RGB
    data = [torch.frombuffer(bytearray(content), dtype=torch.uint8) for content in contents]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # see the module's docstring
        try:
            images: list[torch.Tensor | None] = list(io.decode_jpeg(data, mode=mode, device=device))
        except RuntimeError:  # one bad file fails the batch: try them one by one
            images = [_one(io, item, mode, device) for item in data]
    squares = [
        None if image is None else _square(image, content, image_size)
        for image, content in zip(images, contents, strict=True)
    ]
    ready = [square for square in squares if square is not None]
    if not ready:
        return [None] * len(squares)
    arrays = iter(torch.stack(ready).cpu().numpy())
    return [None if square is None else next(arrays) for square in squares]


def _one(io: Any, data: torch.Tensor, mode: Any, device: torch.device) -> torch.Tensor | None:
    try:
        return io.decode_jpeg(data, mode=mode, device=device)
    except RuntimeError:
        return None


def _square(image: torch.Tensor, content: bytes, image_size: int) -> torch.Tensor:
    """(C, H, W) uint8 squashed to image_size, then turned upright (as ``prepare_image``)."""
    resized = F.interpolate(
        image[None].float(),
        size=(image_size, image_size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )[0]
    square = resized.round_().clamp_(0, 255).to(torch.uint8)
    turn = TURNS.get(_orientation(content))
    return _TURN_OPS[turn](square).contiguous() if turn is not None else square


def _orientation(content: bytes) -> int:
    """The EXIF orientation in a JPEG's header (1, upright, when it says none)."""
    try:
        return image_orientation(content)
    except (OSError, SyntaxError, ValueError):
        return 1
