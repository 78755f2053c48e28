"""Predict with a loaded model: from tensors in memory, or from stored files.

``predict_files`` overlaps decoding with the forward pass: while the model works on one
batch, a thread pool (PIL releases the GIL while it decodes) reads and decodes the next
two, which also hides the storage's latency. On CUDA the batches are stacked in pinned
memory (the copy to the GPU does not block) and large JPEG photos not yet kept as
inputs are decoded by the GPU (``worker.ml.jpeg``), the pool only reading their bytes.
``decoded_batches`` is that pipeline for a caller with a forward pass of its own (the
prediction API's, which also keeps each image's embedding).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from worker.ml.data import (
    Decoded,
    InputCache,
    Opener,
    Pending,
    decode_collect,
    decode_submit,
    to_model_input,
)
from worker.ml.jpeg import gpu_decode_wanted, jpeg_decoder
from worker.ml.weights import LoadedModel


def predict_tensor(loaded: LoadedModel, x_uint8: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Probabilities (N, L) for uint8 (N, C, H, W) images: softmax, or sigmoid if multi-label."""
    parts = [
        _forward(loaded, x_uint8[start : start + batch_size])
        for start in range(0, len(x_uint8), batch_size)
    ]
    if not parts:
        return np.empty((0, len(loaded.meta["label_ids"])), dtype=np.float32)
    return np.concatenate(parts)


def predict_files(
    loaded: LoadedModel,
    names: Sequence[str],
    opener: Opener,
    batch_size: int = 256,
    *,
    threads: int = 2,
    keys: Sequence[str | None] | None = None,
    cache: InputCache | None = None,
    beat: Callable[[], object] | None = None,
    gpu_decode: bool | None = None,
) -> tuple[list[int], np.ndarray, list[str]]:
    """Decode and predict stored files, the next batch decoding while one runs forward.

    Returns (indices into ``names`` that decoded, their probabilities (n, L), the names
    that failed to decode). ``threads`` decode in parallel; while decoding is the
    bottleneck, torch gives up that many CPU threads to it (see ``_ThreadShare``).
    ``keys`` (each file's sha256) and ``cache``: decoded inputs kept between passes.
    ``beat`` is called after each batch (and while one decodes long): a heartbeat.
    ``gpu_decode``: whether large JPEGs may be decoded on a CUDA device (``LABELER_GPU_DECODE``;
    None: the environment's).
    """
    ok: list[int] = []
    bad: list[str] = []
    parts: list[Callable[[], np.ndarray]] = []
    batches = decoded_batches(
        loaded, names, opener, batch_size, threads=threads, keys=keys, cache=cache, beat=beat,
        gpu_decode=gpu_decode,
    )  # fmt: skip
    for first, decoded in batches:
        ok.extend(first + index for index in decoded.ok)
        bad.extend(decoded.bad)
        if decoded.ok:
            parts.append(_forward_start(loaded, decoded.images))
    labels = len(loaded.meta["label_ids"])
    done = [finish() for finish in parts]
    probabilities = np.concatenate(done) if done else np.empty((0, labels), np.float32)
    return ok, probabilities, bad


def decoded_batches(
    loaded: LoadedModel,
    names: Sequence[str],
    opener: Opener,
    batch_size: int = 256,
    *,
    threads: int = 2,
    keys: Sequence[str | None] | None = None,
    cache: InputCache | None = None,
    beat: Callable[[], object] | None = None,
    gpu_decode: bool | None = None,
) -> Iterator[tuple[int, Decoded]]:
    """Yield (position of the batch's first name, its ``Decoded``) batch by batch, the next
    two batches decoding in a thread pool while the caller runs the model on this one.

    The caller's time between two batches is taken as its forward pass, to share the CPU
    between decoding and torch (``_ThreadShare``); the options are ``predict_files``'.
    """
    size, grayscale = loaded.meta["image_size"], loaded.meta["grayscale"]
    device = loaded.device
    on_gpu = (
        gpu_decode_wanted(device) if gpu_decode is None else gpu_decode_wanted(device, gpu_decode)
    )
    decoder = jpeg_decoder(device, image_size=size, grayscale=grayscale) if on_gpu else None
    starts = range(0, len(names), batch_size)
    share = _ThreadShare(decode_threads=max(1, threads), cpu=loaded.device.type == "cpu")
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, share:

        def submit(number: int) -> Pending:
            batch = slice(starts[number], starts[number] + batch_size)
            return decode_submit(
                pool,
                names[batch],
                opener,
                image_size=size,
                grayscale=grayscale,
                keys=None if keys is None else keys[batch],
                cache=cache,
                parts=max(1, threads),
                jpeg_bytes=on_gpu,
                pin=device.type == "cuda",
            )

        queued = [submit(number) for number in range(min(2, len(starts)))]
        for number in range(len(starts)):
            waited = time.perf_counter()
            decoded = decode_collect(
                queued.pop(0),
                image_size=size,
                grayscale=grayscale,
                beat=beat,
                jpeg_decoder=decoder,
            )
            waited = time.perf_counter() - waited
            if number + 2 < len(starts):
                queued.append(submit(number + 2))
            forward = time.perf_counter()
            yield starts[number], decoded
            if decoded.ok:
                share.adjust(waited=waited, forward=time.perf_counter() - forward)
            if beat is not None:
                beat()


class _ThreadShare:
    """Shares the CPU between decoding threads and torch's threads during ``predict_files``.

    When the last batch had to wait for its decoding for more than a tenth of its forward
    pass, decoding is the bottleneck: torch drops to ``threads - decode_threads`` (at
    least 1) so the cores decode instead of spinning in torch's thread pool; when the
    decoding keeps up again, torch gets every thread back. Restores the count on exit.
    """

    def __init__(self, *, decode_threads: int, cpu: bool) -> None:
        self.all = torch.get_num_threads()
        self.fewer = max(1, self.all - decode_threads)
        self.cpu = cpu

    def __enter__(self) -> _ThreadShare:
        return self

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.all)

    def adjust(self, *, waited: float, forward: float) -> None:
        """Set torch's threads for the next batch from this batch's wait and forward times."""
        if self.cpu:
            torch.set_num_threads(self.fewer if waited > 0.1 * forward else self.all)


def _forward(loaded: LoadedModel, x_uint8: torch.Tensor) -> np.ndarray:
    return _forward_start(loaded, x_uint8)()


def _forward_start(loaded: LoadedModel, x_uint8: torch.Tensor) -> Callable[[], np.ndarray]:
    """Start the forward pass of one batch; the returned call gives its probabilities.

    On CUDA nothing waits here: the probabilities come back to pinned memory behind the
    kernels, so the CPU stacks the next batch while the GPU runs this one, and only the
    call waits (for this batch alone). On the CPU the work is done before it returns.
    """
    device = loaded.device
    with torch.inference_mode():
        inputs = to_model_input(x_uint8, device=device, normalisation=loaded.meta["normalisation"])
        inputs = inputs.contiguous(memory_format=torch.channels_last)  # as for_inference's weights
        if device.type == "cuda":
            with torch.autocast(device_type="cuda", dtype=torch.float16):
                logits = loaded.model(inputs)
        else:
            logits = loaded.model(inputs)
        logits = logits.float()
        probs = torch.sigmoid(logits) if loaded.meta["multi_label"] else torch.softmax(logits, 1)
        if device.type != "cuda":
            result = probs.cpu().numpy()
            return lambda: result
        host = torch.empty(probs.shape, dtype=probs.dtype, pin_memory=True)
        host.copy_(probs, non_blocking=True)
        copied = torch.cuda.Event()
        copied.record(torch.cuda.current_stream(device))  # the copy's stream, on its device

    def finish() -> np.ndarray:
        copied.synchronize()
        return host.numpy()

    return finish
