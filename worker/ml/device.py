"""Which device the worker computes on, and how many CPU threads torch may use."""

from __future__ import annotations

import os

import torch

from worker.ml.config import env_int, env_text

_CHOICES = ("auto", "cuda", "mps", "cpu")
_threads_configured = False


def select_device(preference: str | None = None) -> torch.device:
    """The device to use: ``preference`` (the worker passes its setting), else the
    environment's ``LABELER_DEVICE``; "auto" picks CUDA, MPS, CPU.

    An explicit device that is not available raises ``RuntimeError`` saying so.
    """
    wanted = (preference or env_text("LABELER_DEVICE", "auto")).strip().lower()
    kind = wanted.split(":", 1)[0]
    if kind not in _CHOICES:
        raise RuntimeError(
            f"LABELER_DEVICE={wanted!r} is not a device; use one of {', '.join(_CHOICES)}."
        )
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"LABELER_DEVICE={wanted!r} but CUDA is not available to this worker "
            "(no GPU, or torch built without CUDA); set it to auto or cpu."
        )
    if kind == "mps" and not _mps_available():
        raise RuntimeError(
            f"LABELER_DEVICE={wanted!r} but Apple MPS is not available; set it to auto or cpu."
        )
    return torch.device(wanted)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def configure_threads(threads: int | None = None, *, setting: int | None = None) -> int:
    """Pin torch's CPU threads once per process (``LABELER_TORCH_THREADS``, 0 = every core
    this process may use: run several worker processes on one machine with a share each).

    The count is ``setting`` as the worker passes it, else the environment's. Returns the
    thread count in force; later calls change nothing unless ``threads`` is given.
    """
    global _threads_configured
    if threads is None and _threads_configured:
        return torch.get_num_threads()
    if threads is not None:
        count = threads
    else:
        count = env_int("LABELER_TORCH_THREADS", 0) if setting is None else setting
    if count <= 0:
        count = cores()
    torch.set_num_threads(count)
    _threads_configured = True
    return count


def cores() -> int:
    """The CPU cores this process may run on (a container's or ``taskset``'s share, where
    ``os.cpu_count`` would say the whole machine's)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def decode_threads(device: str | torch.device | None = None) -> int:
    """How many threads decode images: every core while nothing else computes (``device``
    None: before a training's first epoch) or while the model runs on a GPU; beside torch
    on the CPU, half of torch's threads, at least 2 (``inference.predict_files`` shares
    them; a host running one worker process per core, torch on one thread in each, keeps
    2 per process, not half the machine's)."""
    if device is None or torch.device(device).type != "cpu":
        return max(2, cores())
    return max(2, torch.get_num_threads() // 2)
