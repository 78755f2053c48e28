"""Serving predictions: models kept loaded between requests, inputs run in batches.

A prediction request must not pay for loading its model: each process keeps the last
few models it loaded (``MODELS_KEPT``), keyed by the version and its weights file's
sha256, so a retrained file under the same name is loaded afresh. A request that asks for
heat maps needs the unfused model too (``weights.load(..., fused=False)``: Grad-CAM hooks
its layers), kept the same way beside the fused ones, so the two never evict each other.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.ml.anatomy import probabilities_and_embeddings
from worker.ml.data import Opener
from worker.ml.inference import decoded_batches
from worker.ml.weights import LoadedModel, load

BATCH = 64
MODELS_KEPT = 4

# Fused (True) and unfused (False) models, each the last MODELS_KEPT used.
_models: dict[bool, OrderedDict[tuple[int, str, str], LoadedModel]] = {
    True: OrderedDict(),
    False: OrderedDict(),
}
_models_lock = threading.Lock()


@dataclass(frozen=True)
class Served:
    """For the images that decoded (``ok``: their positions in the input): probabilities
    (n, L), embeddings (n, D) and each one's share of the model's time; ``bad``: (name,
    why) of each image that did not decode."""

    ok: list[int]
    probabilities: np.ndarray
    embeddings: np.ndarray
    durations_ms: list[float]
    bad: list[tuple[str, str]]


def model_kept(
    version_id: int, sha256: str, path: Path, device: str, *, fused: bool = True
) -> LoadedModel:
    """The version's model, loaded once per process and kept among the last few used;
    ``fused`` False: the unfused one, for heat maps (kept apart from the fused ones)."""
    key = (version_id, sha256, device)
    kept = _models[fused]
    with _models_lock:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    loaded = load(path, device, fused=fused)
    with _models_lock:
        kept[key] = loaded
        while len(kept) > MODELS_KEPT:
            kept.popitem(last=False)
    return loaded


def serve_files(
    loaded: LoadedModel, names: Sequence[str], opener: Opener, *, threads: int = 2,
    batch: int = BATCH,
) -> Served:  # fmt: skip
    """Decode the named images and run them through the model ``batch`` at a time, the
    next batch decoding while one runs (``inference.decoded_batches``)."""
    labels = len(loaded.meta["label_ids"])
    ok: list[int] = []
    bad: list[tuple[str, str]] = []
    probabilities, embeddings, durations = [], [], []
    for first, decoded in decoded_batches(loaded, names, opener, batch, threads=threads):
        bad.extend(zip(decoded.bad, decoded.reasons, strict=True))
        if not decoded.ok:
            continue
        began = time.perf_counter()
        probs, embedded = probabilities_and_embeddings(loaded, decoded.images)
        share = (time.perf_counter() - began) * 1000 / len(decoded.ok)
        ok.extend(first + index for index in decoded.ok)
        probabilities.append(probs)
        embeddings.append(embedded)
        durations.extend([share] * len(decoded.ok))
    if not probabilities:
        empty = np.empty((0, labels), np.float32)
        return Served(ok, empty, np.empty((0, 0), np.float32), [], bad)
    return Served(ok, np.concatenate(probabilities), np.concatenate(embeddings), durations, bad)
