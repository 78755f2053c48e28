"""Prediction from tensors and from stored files."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from worker.ml import architectures, data, inference, weights


def loaded_model(multi_label: bool = False, grayscale: bool = False) -> weights.LoadedModel:
    torch.manual_seed(0)
    channels = 1 if grayscale else 3
    meta = {
        "architecture": "small-cnn",
        "label_ids": [4, 5, 6],
        "thresholds": [0.5] * 3 if multi_label else None,
        "image_size": 8,
        "grayscale": grayscale,
        "channels": channels,
        "normalisation": architectures.normalisation_for("small-cnn", channels),
        "multi_label": multi_label,
    }
    return weights.LoadedModel(architectures.build("small-cnn", 3, channels, 8).eval(), meta)


@pytest.fixture
def files() -> dict[str, bytes]:
    out = {}
    for i in range(7):
        buffer = io.BytesIO()
        PILImage.new("RGB", (20, 14), (i * 30, 255 - i * 30, 90)).save(buffer, format="PNG")
        out[f"{i}.png"] = buffer.getvalue()
    out["bad.png"] = b"garbage"
    return out


def test_predict_tensor_gives_probabilities():
    x = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    probs = inference.predict_tensor(loaded_model(), x, batch_size=2)
    assert probs.shape == (5, 3)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_multi_label_probabilities_are_independent():
    x = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    probs = inference.predict_tensor(loaded_model(multi_label=True), x)
    assert ((probs > 0) & (probs < 1)).all()
    assert not np.allclose(probs.sum(1), 1.0)


@pytest.mark.parametrize("batch_size", [1, 3, 256])
def test_predict_files_skips_bad_files_and_keeps_order(files, batch_size):
    """Same probabilities as decoding first, whatever the batch size; failures named."""
    names = ["0.png", "bad.png", "1.png", "2.png", "missing.png", "3.png", "4.png", "5.png"]
    loaded = loaded_model()

    def opener(name: str) -> io.BytesIO:
        if name not in files:
            raise FileNotFoundError(name)
        return io.BytesIO(files[name])

    ok, probs, bad = inference.predict_files(loaded, names, opener, batch_size=batch_size)
    assert ok == [0, 2, 3, 5, 6, 7]
    assert bad == ["bad.png", "missing.png"]
    expected = inference.predict_tensor(
        loaded, data.load_images([names[i] for i in ok], opener, image_size=8, grayscale=False)
    )
    assert np.allclose(probs, expected, atol=1e-6)


def test_predict_files_with_nothing_to_do():
    ok, probs, bad = inference.predict_files(loaded_model(), [], lambda name: io.BytesIO())
    assert (ok, probs.shape, bad) == ([], (0, 3), [])


def test_grayscale_model_reads_colour_files(files):
    ok, probs, _ = inference.predict_files(
        loaded_model(grayscale=True), ["0.png", "1.png"], lambda n: io.BytesIO(files[n])
    )
    assert ok == [0, 1] and probs.shape == (2, 3)


def test_predict_files_gives_torch_its_threads_back(files):
    """Whatever share decoding took during the pass, torch's thread count is restored."""
    before = torch.get_num_threads()
    names = [f"{i}.png" for i in range(7)]
    inference.predict_files(loaded_model(), names, lambda n: io.BytesIO(files[n]), batch_size=2)
    assert torch.get_num_threads() == before


def test_thread_share_yields_to_decoding_only_while_it_lags():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with inference._ThreadShare(decode_threads=1, cpu=True) as share:
            share.adjust(waited=0.5, forward=1.0)
            assert torch.get_num_threads() == 1
            share.adjust(waited=0.01, forward=1.0)
            assert torch.get_num_threads() == 2
            share.adjust(waited=0.5, forward=1.0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_predict_files_beats_after_each_batch(files):
    """A training's comparison with the current model predicts its validation images:
    the run's heartbeat goes on meanwhile."""
    beats = []
    names = [name for name in files if name != "bad.png"]
    inference.predict_files(
        loaded_model(),
        names,
        lambda name: io.BytesIO(files[name]),
        batch_size=3,
        beat=lambda: beats.append(1),
    )
    assert len(beats) == 3  # 7 files in batches of 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_predict_files_on_cuda_gives_each_batch_its_own_probabilities(files):
    """On CUDA a batch's probabilities come back behind the next batches' kernels: with
    many batches in flight, each image still gets its own, as the CPU computes them."""
    names = [f"{i % 7}.png" for i in range(40)]
    on_cpu = loaded_model()
    on_gpu = weights.LoadedModel(
        weights.for_inference(loaded_model().model, torch.device("cuda")), on_cpu.meta
    )

    def opener(name: str) -> io.BytesIO:
        return io.BytesIO(files[name])

    ok, probs, bad = inference.predict_files(on_gpu, names, opener, batch_size=3)
    expected = inference.predict_tensor(
        on_cpu, data.load_images(names, opener, image_size=8, grayscale=False)
    )
    assert ok == list(range(40)) and bad == []
    assert np.allclose(probs, expected, atol=2e-3)  # float16 on the GPU
