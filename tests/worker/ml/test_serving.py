"""The serving worker's kept models: engines for predictions, unfused models for heat maps."""

from __future__ import annotations

import numpy as np
import torch

from worker.ml import architectures, explain, serving, weights


def test_engines_and_unfused_models_are_each_loaded_once_and_kept_apart(tmp_path):
    torch.manual_seed(0)
    model = architectures.build("small-cnn", 3, 3, 16).eval()
    meta = {
        "architecture": "small-cnn", "label_ids": [1, 2, 3], "thresholds": None,
        "image_size": 16, "grayscale": False, "channels": 3,
        "normalisation": architectures.normalisation_for("small-cnn", 3), "multi_label": False,
    }  # fmt: skip
    sha256 = weights.save(tmp_path / "m.pt", model=model, meta=meta)
    key = (-1, sha256, tmp_path / "m.pt", "cpu")

    engine = serving.engine_kept(*key, onnx_dir=None)
    unfused = serving.model_kept(*key)

    assert serving.engine_kept(*key, onnx_dir=None) is engine
    assert serving.model_kept(*key) is unfused
    assert unfused is not engine.loaded
    image = np.random.default_rng(0).integers(0, 256, (3, 16, 16), dtype=np.uint8)
    assert explain.explain(unfused, image, 0).heat.shape == (16, 16)


def test_an_evicted_engine_ends_its_batcher(tmp_path):
    torch.manual_seed(0)
    model = architectures.build("small-cnn", 2, 3, 8).eval()
    meta = {
        "architecture": "small-cnn", "label_ids": [1, 2], "thresholds": None,
        "image_size": 8, "grayscale": False, "channels": 3,
        "normalisation": architectures.normalisation_for("small-cnn", 3), "multi_label": False,
    }  # fmt: skip
    sha256 = weights.save(tmp_path / "m.pt", model=model, meta=meta)
    first = serving.engine_kept(-100, sha256, tmp_path / "m.pt", "cpu", onnx_dir=None)
    for n in range(serving.MODELS_KEPT):
        serving.engine_kept(-101 - n, sha256, tmp_path / "m.pt", "cpu", onnx_dir=None)
    first.batcher._thread.join(timeout=5)
    assert not first.batcher._thread.is_alive()
    pixels = torch.zeros((1, 3, 8, 8), dtype=torch.uint8)
    assert first.predict(pixels).probabilities.shape == (1, 2)  # held by a late request
    assert serving.engine_kept(-100, sha256, tmp_path / "m.pt", "cpu", onnx_dir=None) is not first
