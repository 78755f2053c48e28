"""Model files: round trip, atomic writes, format versions."""

from __future__ import annotations

import hashlib
import os

import pytest
import torch

from worker.ml import architectures, weights


def meta(**overrides):
    return {
        "architecture": "small-cnn",
        "label_ids": [11, 12, 13],
        "thresholds": None,
        "image_size": 8,
        "grayscale": False,
        "channels": 3,
        "normalisation": architectures.normalisation_for("small-cnn", 3),
        "multi_label": False,
        **overrides,
    }


def model(seed: int = 0):
    torch.manual_seed(seed)
    return architectures.build("small-cnn", 3, 3, 8)


def test_round_trip_predicts_the_same(tmp_path):
    """The loaded model (eval mode) gives the saved model's outputs; meta comes back."""
    path = tmp_path / "run-1.pt"
    saved = model().eval()
    digest = weights.save(path, model=saved, meta=meta(thresholds=[0.3, 0.5, 0.7]))
    loaded = weights.load(path, "cpu")
    x = torch.randn(4, 3, 8, 8)
    assert not loaded.model.training
    assert torch.allclose(loaded.model(x), saved(x))
    assert loaded.meta == meta(thresholds=[0.3, 0.5, 0.7])
    assert loaded.device == torch.device("cpu")
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_training_images_travel_with_the_model(tmp_path):
    """The ids of the images a model was trained on come back with it; older files: None."""
    weights.save(tmp_path / "with.pt", model=model(), meta=meta(), trained_on=[9, 3, 7])
    weights.save(tmp_path / "without.pt", model=model(), meta=meta())
    assert weights.load(tmp_path / "with.pt", "cpu").trained_on.tolist() == [3, 7, 9]
    assert weights.load(tmp_path / "without.pt", "cpu").trained_on is None


def test_save_leaves_no_temporary_file(tmp_path):
    weights.save(tmp_path / "m.pt", model=model(), meta=meta())
    weights.save(tmp_path / "m.pt", model=model(1), meta=meta())
    assert os.listdir(tmp_path) == ["m.pt"]


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    """A failure before the rename leaves the previous file whole and no temporary."""
    path = tmp_path / "m.pt"
    weights.save(path, model=model(0), meta=meta())
    before = path.read_bytes()

    def crash(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(weights.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        weights.save(path, model=model(1), meta=meta(label_ids=[1, 2, 3]))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pt"]
    assert weights.load(path, "cpu").meta["label_ids"] == [11, 12, 13]


def test_other_format_version_is_refused(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format_version": 0, "meta": meta(), "state_dict": {}}, path)
    with pytest.raises(weights.WeightsFormatError, match=r"format 0.*reads format 1"):
        weights.load(path, "cpu")


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    with pytest.raises(weights.WeightsFormatError, match="not a model file"):
        weights.load(path, "cpu")


def test_meta_must_describe_the_model(tmp_path):
    incomplete = meta()
    del incomplete["normalisation"]
    with pytest.raises(ValueError, match="normalisation"):
        weights.save(tmp_path / "m.pt", model=model(), meta=incomplete)
    assert os.listdir(tmp_path) == []


def test_loaded_model_is_made_lean_for_inference(tmp_path):
    """Batch norms are folded into the convolutions; predictions do not change."""
    path = tmp_path / "m.pt"
    saved = model().eval()
    weights.save(path, model=saved, meta=meta())
    loaded = weights.load(path, "cpu")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.model.modules())
    x = torch.rand(3, 3, 8, 8)
    assert torch.allclose(loaded.model(x), saved(x), atol=1e-5)
