"""The exported files give the server's own probabilities: ONNX run by onnxruntime and
TorchScript run by torch, against the pre-labelling path (``predict_files``) on images
decoded as the server decodes them, for every architecture a project trains."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from labeler.predictions.training_config import ARCHITECTURES
from worker.ml import architectures, export, weights
from worker.ml.data import decode_bytes
from worker.ml.inference import predict_files, predict_tensor

TOLERANCE = 1e-4
# (architecture, input size, images): the small CNN on 100 images, the backbones on fewer,
# smaller ones (each image costs them far more).
CASES = [
    ("small-cnn", 32, 100),
    ("resnet18", 48, 24),
    ("mobilenet_v3_small", 64, 24),
    ("efficientnet_b0", 48, 16),
]
PHONE_BYTES = 20 * 1024 * 1024  # a model a phone app ships without a second thought


def photo_files(count: int, seed: int) -> dict[str, bytes]:
    """PNG and JPEG files of random sizes and content, as uploads are."""
    rng = np.random.default_rng(seed)
    files = {}
    for i in range(count):
        width, height = (int(v) for v in rng.integers(20, 90, 2))
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        PILImage.fromarray(pixels).save(buffer, format="JPEG" if i % 2 else "PNG")
        files[f"photo-{i}"] = buffer.getvalue()
    return files


def saved_model(tmp_path: Path, architecture: str, size: int, *, multi: bool = False):
    torch.manual_seed(1)
    model = architectures.build(architecture, 4, 3, size)
    meta = {
        "architecture": architecture,
        "label_ids": [11, 12, 13, 14],
        "thresholds": [0.5] * 4 if multi else None,
        "image_size": size,
        "grayscale": False,
        "channels": 3,
        "normalisation": architectures.normalisation_for(architecture, 3),
        "multi_label": multi,
    }
    path = tmp_path / "model.pt"
    weights.save(path, model=model, meta=meta, trained_on=[1, 2, 3])
    return weights.load(path, "cpu")


def test_the_cases_cover_every_architecture():
    assert sorted(case[0] for case in CASES) == sorted(ARCHITECTURES)


@pytest.mark.parametrize(("architecture", "size", "count"), CASES, ids=[c[0] for c in CASES])
def test_onnx_and_torchscript_give_the_servers_probabilities(tmp_path, architecture, size, count):
    """Within 1e-4 of the server's pre-labelling probabilities, image by image."""
    loaded = saved_model(tmp_path, architecture, size)
    files = photo_files(count, seed=5)
    names = list(files)
    ok, server, bad = predict_files(loaded, names, lambda n: io.BytesIO(files[n]), batch_size=32)
    assert bad == [] and ok == list(range(count))
    pixels = np.stack([decode_bytes(n, files[n], image_size=size, grayscale=False) for n in names])

    module = export.packaged(loaded)
    example = export.example_pixels(loaded.meta)
    onnx = export.onnx_bytes(module, example)
    script = export.torchscript_bytes(module, example)

    from_onnx = export.onnx_probabilities(export.onnx_session(onnx), pixels)
    from_script = export.torchscript_probabilities(
        export.torchscript_module(script), torch.from_numpy(pixels)
    )
    assert from_onnx.shape == from_script.shape == (count, 4)
    assert np.abs(from_onnx - server).max() < TOLERANCE
    assert np.abs(from_script - server).max() < TOLERANCE


def test_a_multi_label_model_exports_its_sigmoid(tmp_path):
    loaded = saved_model(tmp_path, "small-cnn", 16, multi=True)
    module = export.packaged(loaded)
    onnx = export.onnx_bytes(module, export.example_pixels(loaded.meta))
    pixels = export.example_pixels(loaded.meta, batch=7, seed=3)
    from_onnx = export.onnx_probabilities(export.onnx_session(onnx), pixels.numpy())
    with torch.no_grad():
        logits = loaded.model((pixels.float() - module.mean) / module.std)
    np.testing.assert_allclose(from_onnx, torch.sigmoid(logits).numpy(), atol=TOLERANCE)
    assert not np.allclose(from_onnx.sum(1), 1.0)  # per label, not a softmax


def test_the_batch_axis_is_dynamic(tmp_path):
    """One image, or many, through the files exported with an example batch of two."""
    loaded = saved_model(tmp_path, "small-cnn", 16)
    module = export.packaged(loaded)
    example = export.example_pixels(loaded.meta)
    session = export.onnx_session(export.onnx_bytes(module, example))
    script = export.torchscript_module(export.torchscript_bytes(module, example))
    for batch in (1, 5, 64):
        pixels = export.example_pixels(loaded.meta, batch=batch, seed=batch)
        assert export.onnx_probabilities(session, pixels.numpy()).shape == (batch, 4)
        assert export.torchscript_probabilities(script, pixels).shape == (batch, 4)


@pytest.mark.slow
def test_mobilenet_exports_small_enough_for_a_phone(tmp_path):
    loaded = saved_model(tmp_path, "mobilenet_v3_small", 64)
    onnx = export.onnx_bytes(export.packaged(loaded), export.example_pixels(loaded.meta))
    assert len(onnx) < PHONE_BYTES


def test_files_are_written_whole_through_a_temporary_name(tmp_path):
    target = tmp_path / "package" / "model.onnx"
    weights.write_atomically(target, b"first")
    weights.write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["model.onnx"]


def test_a_grayscale_model_takes_one_channel(tmp_path):
    torch.manual_seed(2)
    model = architectures.build("resnet18", 3, 1, 32)
    meta = {
        "architecture": "resnet18",
        "label_ids": [1, 2, 3],
        "thresholds": None,
        "image_size": 32,
        "grayscale": True,
        "channels": 1,
        "normalisation": architectures.normalisation_for("resnet18", 1),
        "multi_label": False,
    }
    weights.save(tmp_path / "gray.pt", model=model, meta=meta)
    loaded = weights.load(tmp_path / "gray.pt", "cpu")
    module = export.packaged(loaded)
    onnx = export.onnx_bytes(module, export.example_pixels(meta))
    pixels = export.example_pixels(meta, batch=6, seed=4)
    from_onnx = export.onnx_probabilities(export.onnx_session(onnx), pixels.numpy())
    assert np.abs(from_onnx - predict_tensor(loaded, pixels)).max() < TOLERANCE
