"""The serving worker's kept models: fused for predictions, unfused for heat maps."""

from __future__ import annotations

import numpy as np
import torch

from worker.ml import architectures, explain, serving, weights


def test_fused_and_unfused_models_are_each_loaded_once_and_kept_apart(tmp_path):
    torch.manual_seed(0)
    model = architectures.build("small-cnn", 3, 3, 16).eval()
    meta = {
        "architecture": "small-cnn", "label_ids": [1, 2, 3], "thresholds": None,
        "image_size": 16, "grayscale": False, "channels": 3,
        "normalisation": architectures.normalisation_for("small-cnn", 3), "multi_label": False,
    }  # fmt: skip
    sha256 = weights.save(tmp_path / "m.pt", model=model, meta=meta)
    key = (-1, sha256, tmp_path / "m.pt", "cpu")

    fused = serving.model_kept(*key)
    unfused = serving.model_kept(*key, fused=False)

    assert serving.model_kept(*key) is fused
    assert serving.model_kept(*key, fused=False) is unfused
    assert unfused is not fused
    image = np.random.default_rng(0).integers(0, 256, (3, 16, 16), dtype=np.uint8)
    assert explain.explain(unfused, image, 0).heat.shape == (16, 16)
