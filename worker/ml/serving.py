"""Serving predictions: models kept loaded between requests, inputs run in batches.

A prediction request must not pay for loading its model: each process keeps the last
few models it loaded (``MODELS_KEPT``), keyed by the version and its weights file's
sha256, so a retrained file under the same name is loaded afresh. Each is kept as an
``engine.Engine``: ONNX Runtime on the CPU, torch on a GPU, the concurrent requests of a
model batched together. A request that asks for heat maps needs the unfused model too
(``weights.load(..., fused=False)``: Grad-CAM hooks its layers), kept the same way beside
the engines, so the two never evict each other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from worker.ml.data import BadImage, Opener, decode_file
from worker.ml.engine import Engine, Rows, graph_name
from worker.ml.weights import LoadedModel, load

BATCH = 64
MODELS_KEPT = 4

# The unfused models (for heat maps) and the engines, each the last MODELS_KEPT used.
_models: OrderedDict[tuple[int, str, str], LoadedModel] = OrderedDict()
_engines: OrderedDict[tuple[int, str, str], Engine] = OrderedDict()
_loading: dict[tuple[int, str, str], threading.Lock] = {}
_models_lock = threading.Lock()
_pools_lock = threading.Lock()


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


def model_kept(version_id: int, sha256: str, path: Path, device: str) -> LoadedModel:
    """The version's unfused model (for heat maps), loaded once per process and kept among
    the last few used."""
    key = (version_id, sha256, device)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    loaded = load(path, device, fused=False)
    with _models_lock:
        _models[key] = loaded
        while len(_models) > MODELS_KEPT:
            _models.popitem(last=False)
    return loaded


def engine_kept(
    version_id: int, sha256: str, path: Path, device: str, *, onnx_dir: Path | None,
    max_batch: int = BATCH, delay: float = 0.0,
) -> Engine:  # fmt: skip
    """The version's engine, made once per process and kept among the last few used (an
    evicted one's batcher ends once its waiting requests ran; a request still holding it
    runs alone). ``onnx_dir``: where the ONNX graphs are kept (None: torch runs the model).
    A model loads under a lock of its own: two first requests of a version load it once,
    and requests for the models already kept never wait for it."""
    key = (version_id, sha256, device)
    with _models_lock:
        if key in _engines:
            _engines.move_to_end(key)
            return _engines[key]
        loading = _loading.setdefault(key, threading.Lock())
    with loading:
        with _models_lock:
            if key in _engines:
                return _engines[key]
        onnx_path = None if onnx_dir is None else onnx_dir / graph_name(sha256)
        engine = Engine(load(path, device), onnx_path=onnx_path, max_batch=max_batch, delay=delay)
        with _models_lock:
            _engines[key] = engine
            _loading.pop(key, None)
            while len(_engines) > MODELS_KEPT:
                _engines.popitem(last=False)[1].close()
    return engine


def serve_files(
    engine: Engine, names: Sequence[str], opener: Opener, *, threads: int = 2
) -> Served:
    """Decode the named images and run them through the engine ``engine.max_batch`` at a
    time. A lone image is decoded on the caller's thread; more on a pool of ``threads``
    kept by the process, one batch ahead: the next batch decodes while one runs, and a
    large request never has more than one batch waiting for the model, so the requests
    that come after it take their turns between its batches."""
    loaded = engine.loaded
    size, grayscale = int(loaded.meta["image_size"]), bool(loaded.meta["grayscale"])

    def decode(name: str) -> np.ndarray | BadImage:
        try:
            return decode_file(name, opener, image_size=size, grayscale=grayscale)
        except BadImage as exc:
            return exc

    def decoding(first: int) -> list[Future[np.ndarray | BadImage]]:
        batch = names[first : first + engine.max_batch]
        if len(names) == 1:
            done: Future[np.ndarray | BadImage] = Future()
            done.set_result(decode(batch[0]))
            return [done]
        pool = _decode_pool(threads)
        return [pool.submit(decode, name) for name in batch]

    ok: list[int] = []
    bad: list[tuple[str, str]] = []
    rows: list[Rows] = []
    starts = range(0, len(names), engine.max_batch)
    ahead = decoding(0) if names else []
    for number, first in enumerate(starts):
        outcomes, pixels = [future.result() for future in ahead], []
        if number + 1 < len(starts):
            ahead = decoding(starts[number + 1])
        for position, outcome in enumerate(outcomes, start=first):
            if isinstance(outcome, BadImage):
                bad.append((names[position], outcome.reason))
            else:
                ok.append(position)
                pixels.append(outcome)
        if pixels:
            rows.append(engine.predict(torch.from_numpy(np.stack(pixels))))
    if not rows:
        labels = len(loaded.meta["label_ids"])
        return Served(ok, np.empty((0, labels), np.float32), np.empty((0, 0), np.float32), [], bad)
    durations = [row.share_ms for row in rows for _ in range(len(row.probabilities))]
    return Served(
        ok,
        np.concatenate([row.probabilities for row in rows]),
        np.concatenate([row.embeddings for row in rows]),
        durations,
        bad,
    )


_pools: dict[int, ThreadPoolExecutor] = {}


def _decode_pool(threads: int) -> ThreadPoolExecutor:
    """The process's decoding threads for served requests (made once for each size)."""
    with _pools_lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="labeler-serve-decode")
        return _pools[threads]
