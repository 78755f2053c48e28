"""A loaded model as files other tools run: TorchScript and ONNX, checked and timed.

Both files take what a decoded image is, with nothing else to know: ``pixels``, a uint8
(N, C, H, W) batch of 0..255 values (C = 3, RGB, or 1, grayscale; H = W = the model's
input size), and give ``probabilities`` (N, L), float32, in the order of the model's
labels. The scaling to 0..1, the normalisation and the softmax (sigmoid for a multi-label
model) are inside the graph, so a caller only resizes and stacks. The batch axis is
dynamic in both.

ONNX comes from ``torch.onnx.export(dynamo=True)``, the exporter built on ``torch.export``
that torch keeps (the TorchScript-based one is deprecated): it exports all four
architectures here, the fused graph ``weights.for_inference`` makes included.
"""

from __future__ import annotations

import copy
import io
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn

from worker.ml.weights import LoadedModel

INPUT_NAME = "pixels"
OUTPUT_NAME = "probabilities"
OPSET = 18
EXAMPLE_BATCH = 2  # an example of 1 would let torch.export fix the batch axis at 1
MAX_BATCH = 4096


class PackagedModel(nn.Module):
    """The network with its input scaling and its output activation: uint8 in, probabilities out."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: nn.Module, *, mean: list[float], std: list[float], multi: bool):
        super().__init__()
        self.model = model
        # (x / 255 - mean) / std == (x - 255 mean) / (255 std), in one subtraction and one
        # division, as ``worker.ml.data.to_model_input`` does it to float precision.
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1) * 255.0)
        self.multi = multi

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Probabilities (N, L) for uint8 pixels (N, C, H, W)."""
        logits = self.model((pixels.float() - self.mean) / self.std).float()
        return torch.sigmoid(logits) if self.multi else torch.softmax(logits, 1)


def packaged(loaded: LoadedModel) -> PackagedModel:
    """The loaded model, on the CPU in eval mode, wrapped to take uint8 pixels."""
    normalisation = loaded.meta["normalisation"]
    # A copy: the loaded model stays as it is, channels-last, for the server's own use.
    model = copy.deepcopy(loaded.model).to("cpu").to(memory_format=torch.contiguous_format)
    return PackagedModel(
        model.eval(),
        mean=list(normalisation["mean"]),
        std=list(normalisation["std"]),
        multi=bool(loaded.meta["multi_label"]),
    ).eval()


def example_pixels(meta: dict, batch: int = EXAMPLE_BATCH, seed: int = 0) -> torch.Tensor:
    """A random uint8 batch of the model's input shape."""
    size, channels = int(meta["image_size"]), int(meta["channels"])
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, channels, size, size)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)


def torchscript_bytes(module: PackagedModel, example: torch.Tensor) -> bytes:
    """The traced module as a TorchScript file's bytes (``torch.jit.load`` reads them)."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's notice that torch.export is newer
        traced = torch.jit.trace(module, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    return buffer.getvalue()


def onnx_bytes(module: PackagedModel, example: torch.Tensor) -> bytes:
    """The module as an ONNX file's bytes, the batch axis dynamic, weights inside."""
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={"pixels": {0: batch}},
            opset_version=OPSET,
            optimize=True,
            verbose=False,
        )
    assert program is not None
    buffer = io.BytesIO()
    program.save(buffer)  # type: ignore[arg-type]  # save writes to a file object too
    return buffer.getvalue()


def onnx_session(path: Path | bytes, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An onnxruntime session on the CPU, with ``threads`` (default: torch's) intra-op threads."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    source = path if isinstance(path, bytes) else str(path)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_probabilities(session: onnxruntime.InferenceSession, pixels: np.ndarray) -> np.ndarray:
    """The ONNX file's probabilities for uint8 pixels (N, C, H, W)."""
    return np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: pixels})[0])


def torchscript_module(path: Path | bytes) -> torch.jit.ScriptModule:
    """The TorchScript file loaded on the CPU."""
    source = io.BytesIO(path) if isinstance(path, bytes) else str(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's notice that torch.export is newer
        return torch.jit.load(source, map_location="cpu")


def torchscript_probabilities(module: torch.jit.ScriptModule, pixels: torch.Tensor) -> np.ndarray:
    """The TorchScript file's probabilities for uint8 pixels (N, C, H, W)."""
    with torch.inference_mode():
        return module(pixels).numpy()


def median_ms(call: Callable[[], object], *, runs: int = 21, warmup: int = 10) -> float:
    """The median wall time of ``call`` in milliseconds, after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times))


def cpu_latency(
    onnx: bytes, torchscript: bytes, meta: dict, *, runs: int = 21
) -> dict[str, float | int]:
    """Batch 1 on the CPU: the median milliseconds of each file, with the thread count."""
    threads = torch.get_num_threads()
    one = example_pixels(meta, batch=1, seed=1)
    session = onnx_session(onnx, threads)
    scripted = torchscript_module(torchscript)
    array = one.numpy()
    onnx_ms = median_ms(lambda: onnx_probabilities(session, array), runs=runs)
    return {
        "onnxruntime_ms": round(onnx_ms, 3),
        "torchscript_ms": round(
            median_ms(lambda: torchscript_probabilities(scripted, one), runs=runs), 3
        ),
        "runs": runs,
        "threads": threads,
        "cpu_count": os.cpu_count() or 1,
    }


def exported_difference(
    onnx: bytes, torchscript: bytes, expected: np.ndarray, pixels: torch.Tensor
) -> float:
    """The largest difference between each file's probabilities and ``expected``."""
    from_onnx = onnx_probabilities(onnx_session(onnx), pixels.numpy())
    from_script = torchscript_probabilities(torchscript_module(torchscript), pixels)
    return float(max(np.abs(from_onnx - expected).max(), np.abs(from_script - expected).max()))
