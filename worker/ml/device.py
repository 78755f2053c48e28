"""Which device the worker computes on, and how many CPU threads torch may use."""

from __future__ import annotations

import os
from typing import Any

import torch
from django.conf import settings

_CHOICES = ("auto", "cuda", "mps", "cpu")
_threads_configured = False


def setting(name: str, default: Any) -> Any:
    """A Django setting, or ``default`` when it is absent or Django is not configured."""
    if not settings.configured:
        return default
    return getattr(settings, name, default)


def select_device(preference: str | None = None) -> torch.device:
    """The device to use: ``preference``, else ``LABELER_DEVICE``; "auto" picks CUDA, MPS, CPU.

    An explicit device that is not available raises ``RuntimeError`` saying so.
    """
    wanted = (preference or setting("LABELER_DEVICE", "auto") or "auto").strip().lower()
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


def configure_threads(threads: int | None = None) -> int:
    """Pin torch's CPU threads once per process (``LABELER_TORCH_THREADS``, 0 = all cores).

    Returns the thread count in force; later calls change nothing unless ``threads`` is given.
    """
    global _threads_configured
    if threads is None and _threads_configured:
        return torch.get_num_threads()
    count = int(setting("LABELER_TORCH_THREADS", 0)) if threads is None else threads
    if count <= 0:
        count = os.cpu_count() or 1
    torch.set_num_threads(count)
    _threads_configured = True
    return count
