"""Predict with a loaded model: from tensors in memory, or from stored files.

``predict_files`` overlaps decoding with the forward pass: while the model works on one
batch, a thread pool (PIL releases the GIL) decodes the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from worker.ml.data import Opener, decode_collect, decode_submit, to_model_input
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
) -> tuple[list[int], np.ndarray, list[str]]:
    """Decode and predict stored files, a batch decoding while the one before runs.

    Returns (indices into ``names`` that decoded, their probabilities (n, L), the names
    that failed to decode).
    """
    options = {"image_size": loaded.meta["image_size"], "grayscale": loaded.meta["grayscale"]}
    batches = [names[start : start + batch_size] for start in range(0, len(names), batch_size)]
    ok: list[int] = []
    bad: list[str] = []
    parts: list[np.ndarray] = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending = decode_submit(pool, batches[0], opener, **options) if batches else []
        for number in range(len(batches)):
            decoded = decode_collect(pending, **options)
            if number + 1 < len(batches):
                pending = decode_submit(pool, batches[number + 1], opener, **options)
            offset = number * batch_size
            ok.extend(offset + index for index in decoded.ok)
            bad.extend(decoded.bad)
            if decoded.ok:
                parts.append(_forward(loaded, decoded.images))
    labels = len(loaded.meta["label_ids"])
    probabilities = np.concatenate(parts) if parts else np.empty((0, labels), np.float32)
    return ok, probabilities, bad


def _forward(loaded: LoadedModel, x_uint8: torch.Tensor) -> np.ndarray:
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
    return probs.cpu().numpy()
