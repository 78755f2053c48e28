"""Device choice and CPU thread pinning."""

from __future__ import annotations

import pytest
import torch

from worker.ml import device


def test_auto_is_cpu_without_accelerators(monkeypatch):
    """With no CUDA and no MPS, auto picks the CPU."""
    monkeypatch.setenv("LABELER_DEVICE", "auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    assert device.select_device() == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    """Auto takes CUDA when present, else MPS."""
    monkeypatch.setenv("LABELER_DEVICE", "auto")
    monkeypatch.setattr(device, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.select_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.select_device().type == "mps"


def test_setting_is_honoured(monkeypatch):
    """LABELER_DEVICE=cpu gives the CPU even when CUDA is there."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LABELER_DEVICE", "cpu")
    assert device.select_device() == torch.device("cpu")


def test_argument_overrides_setting(monkeypatch):
    monkeypatch.setenv("LABELER_DEVICE", "nonsense")
    assert device.select_device("cpu") == torch.device("cpu")


def test_missing_cuda_is_a_clear_error(monkeypatch):
    """Asking for CUDA on a machine without it says so instead of falling back."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LABELER_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.select_device()


def test_unknown_device_is_rejected(monkeypatch):
    monkeypatch.setenv("LABELER_DEVICE", "tpu")
    with pytest.raises(RuntimeError, match="not a device"):
        device.select_device()


def test_threads_pinned_once_from_setting(monkeypatch):
    """LABELER_TORCH_THREADS pins torch's threads; later calls keep the first choice."""
    before = torch.get_num_threads()
    monkeypatch.setattr(device, "_threads_configured", False)
    monkeypatch.setenv("LABELER_TORCH_THREADS", "1")
    try:
        assert device.configure_threads() == 1
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("LABELER_TORCH_THREADS", "2")
        assert device.configure_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_zero_threads_means_all_cores(monkeypatch):
    """0 threads: every core this process may run on (its affinity, else the machine's)."""
    before = torch.get_num_threads()
    monkeypatch.setattr(device, "_threads_configured", False)
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(device.os, "cpu_count", lambda: 64)
    monkeypatch.setenv("LABELER_TORCH_THREADS", "0")
    try:
        assert device.configure_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_decode_threads_leave_cores_to_torch_on_the_cpu_only(monkeypatch):
    """Before training and beside a GPU every core decodes; beside torch on the CPU, half
    of torch's threads (2 at least: a process of a one-process-per-core worker)."""
    monkeypatch.setattr(device, "cores", lambda: 8)
    monkeypatch.setattr(device.torch, "get_num_threads", lambda: 6)
    assert device.decode_threads() == 8
    assert device.decode_threads("cuda:0") == 8
    assert device.decode_threads("cpu") == 3
    monkeypatch.setattr(device.torch, "get_num_threads", lambda: 1)
    assert device.decode_threads(torch.device("cpu")) == 2
