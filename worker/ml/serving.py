"""Serving predictions: models kept loaded between requests, inputs run in batches.

A prediction request must not pay for loading its model: each process keeps the last
few models it loaded (``MODELS_KEPT``), keyed by the version and its weights file's
sha256, so a retrained file under the same name is loaded afresh.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from worker.ml.anatomy import probabilities_and_embeddings
from worker.ml.weights import LoadedModel, load

BATCH = 64
MODELS_KEPT = 4

_models: OrderedDict[tuple[int, str, str], LoadedModel] = OrderedDict()
_models_lock = threading.Lock()


@dataclass(frozen=True)
class Served:
    """Probabilities (n, L), embeddings (n, D) and each image's share of the model's time."""

    probabilities: np.ndarray
    embeddings: np.ndarray
    durations_ms: list[float]


def model_kept(version_id: int, sha256: str, path: Path, device: str) -> LoadedModel:
    """The version's model, loaded once per process and kept among the last few used."""
    key = (version_id, sha256, device)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    loaded = load(path, device)
    with _models_lock:
        _models[key] = loaded
        while len(_models) > MODELS_KEPT:
            _models.popitem(last=False)
    return loaded


def serve_arrays(loaded: LoadedModel, images: Sequence[np.ndarray], batch: int = BATCH) -> Served:
    """Run decoded uint8 (C, H, W) images through the model ``batch`` at a time."""
    labels = len(loaded.meta["label_ids"])
    probabilities, embeddings, durations = [], [], []
    for start in range(0, len(images), batch):
        part = images[start : start + batch]
        began = time.perf_counter()
        probs, embedded = probabilities_and_embeddings(loaded, torch.from_numpy(np.stack(part)))
        share = (time.perf_counter() - began) * 1000 / len(part)
        probabilities.append(probs)
        embeddings.append(embedded)
        durations.extend([share] * len(part))
    if not probabilities:
        return Served(np.empty((0, labels), np.float32), np.empty((0, 0), np.float32), [])
    return Served(np.concatenate(probabilities), np.concatenate(embeddings), durations)
