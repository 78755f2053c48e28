"""The pre-labelling benchmark's worker processes: N gpu-queue worker processes on one host.

A CPU-only host runs the gpu queue as a Celery worker of several processes, torch on one
thread in each (``--concurrency`` = cores, ``LABELER_TORCH_THREADS=1``): a pass's chunks
spread over the processes, and while one process reads inputs and stores rows, the other
computes. This pool is that worker without the broker: processes started by ``spawn``
(fresh interpreters, as Celery's are after their own fork, each with its own database
connection), the same settings, the task body run on each chunk. The reference is timed
the same way: the bare forward pass split over the same processes.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# What this process keeps between calls of ``forward``: models by file, inputs by share.
_models: dict[str, Any] = {}
_decoded: dict[tuple[str, ...], Any] = {}


class Workers:
    """``processes`` set up as gpu-queue worker processes with ``threads`` torch threads each.

    The settings come from this process's environment (database, folders), as a worker's do.
    """

    def __init__(self, processes: int, threads: int) -> None:
        self.processes, self.threads = processes, threads
        context = multiprocessing.get_context("spawn")
        self.pool: Pool = context.Pool(processes, initializer=_set_up, initargs=(threads,))

    def map(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``function`` on every item, each process taking the next item when it is free."""
        return self.pool.map(function, items, chunksize=1)

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


def _set_up(threads: int) -> None:
    os.environ["LABELER_TORCH_THREADS"] = str(threads)
    sys.path.insert(0, str(ROOT))
    import django

    import worker.ml  # noqa: F401 - first, as in the worker: OpenMP's wait policy, then torch

    django.setup()
    from labeler import jobs

    # Follow-up tasks go to the broker, to other workers: not run here.
    jobs.enqueue = _hand_on  # type: ignore[assignment]


def _hand_on(name: str, *args: Any, **kwargs: Any) -> None:
    """What a broker does with a follow-up task, as far as this worker sees: it leaves."""


def predict(arguments: tuple[int, list[int], bool]) -> int:
    """The gpu-queue task body on one chunk; predictions stored. ``cold``: the input folder
    was emptied, and this process lets go of the shards it held open."""
    from labeler.images.pixels import input_shards
    from worker import model_jobs as ml_jobs

    version_id, chunk, cold = arguments
    if cold:
        input_shards.release_all()
    return ml_jobs.predict(version_id, chunk)


def forward(arguments: tuple[str, tuple[str, ...], int, int]) -> bool:
    """The bare forward pass over this process's share of the images, decoded and kept
    in memory the first time this process gets that share (the model too); returns
    whether it had to decode (a call that did is no timing of the forward pass alone).
    """
    from worker import model_jobs as ml_jobs
    from worker.ml import weights
    from worker.ml.device import configure_threads

    weights_name, names, image_size, batch_size = arguments
    configure_threads()
    if weights_name not in _models:
        _models[weights_name] = weights.load(ml_jobs.weights_path(weights_name), "cpu")
    loaded = _models[weights_name]
    decoded = names not in _decoded
    if decoded:
        _decoded[names] = model_inputs(loaded, names, image_size)
    forward_batches(loaded, _decoded[names], batch_size)
    return decoded


def model_inputs(loaded: Any, names: Sequence[str], image_size: int) -> Any:
    """The stored files decoded, normalised and laid out as the model takes them (untimed)."""
    import torch
    from django.conf import settings

    from worker.ml import data

    media = Path(settings.MEDIA_ROOT)
    x = data.load_images(
        names, lambda name: (media / name).open("rb"), image_size=image_size, grayscale=False
    )
    return data.to_model_input(
        x, device=torch.device("cpu"), normalisation=loaded.meta["normalisation"]
    ).contiguous(memory_format=torch.channels_last)


def forward_batches(loaded: Any, inputs: Any, batch_size: int) -> None:
    """The model alone over ``inputs``, ``batch_size`` at a time: what the reference times."""
    import torch

    cuda = inputs.device.type == "cuda"
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
        for first in range(0, len(inputs), batch_size):
            loaded.model(inputs[first : first + batch_size])
    if cuda:
        torch.cuda.synchronize()
