"""The networks: shapes, grayscale inputs, pretrained weights from a local file."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision

from worker.ml import architectures


@pytest.mark.parametrize("channels", [1, 3])
def test_small_cnn_gives_one_logit_per_label(channels):
    model = architectures.build("small-cnn", 5, channels, 16)
    assert model(torch.randn(2, channels, 16, 16)).shape == (2, 5)


@pytest.mark.parametrize("architecture", architectures.BACKBONES)
@pytest.mark.parametrize("channels", [1, 3])
def test_backbone_builds_predicts_and_trains_a_step(architecture, channels):
    """Each backbone takes the input channels, gives num_outputs logits and learns."""
    torch.manual_seed(0)
    model = architectures.build(architecture, 3, channels, 32)
    x, y = torch.randn(4, channels, 32, 32), torch.tensor([0, 1, 2, 0])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = [p.detach().clone() for p in model.parameters()]
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    assert model(x).shape == (4, 3)
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="Unknown architecture"):
        architectures.build("vgg11", 2, 3, 32)


def test_normalisation_matches_channels():
    assert len(architectures.normalisation_for("resnet18", 1)["mean"]) == 1
    assert architectures.normalisation_for("resnet18", 3)["std"] == [0.229, 0.224, 0.225]
    assert architectures.normalisation_for("small-cnn", 3)["mean"] == [0.5, 0.5, 0.5]


def test_no_pretrained_path_unless_asked():
    assert architectures.pretrained_path({"architecture": "resnet18", "pretrained": False}) is None


def test_pretrained_without_folder_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LABELER_PRETRAINED_DIR", "")
    with pytest.raises(FileNotFoundError, match="LABELER_PRETRAINED_DIR"):
        architectures.pretrained_path({"architecture": "resnet18", "pretrained": True})


def test_pretrained_file_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LABELER_PRETRAINED_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"mobilenet_v3_small\.pth"):
        architectures.pretrained_path({"architecture": "mobilenet_v3_small", "pretrained": True})


def test_pretrained_weights_are_loaded_and_gray_stem_sums_them(monkeypatch, tmp_path):
    """The backbone starts from the file's weights; a grayscale stem sums the RGB filters."""
    torch.manual_seed(1)
    source = torchvision.models.mobilenet_v3_small(weights=None)
    torch.save(source.state_dict(), tmp_path / "mobilenet_v3_small.pth")
    monkeypatch.setenv("LABELER_PRETRAINED_DIR", str(tmp_path))
    path = architectures.pretrained_path({"architecture": "mobilenet_v3_small", "pretrained": True})
    gray = architectures.build("mobilenet_v3_small", 2, 1, 32, path)
    stem = source.features[0][0].weight
    assert torch.allclose(gray.features[0][0].weight, stem.sum(1, keepdim=True))
    rgb = architectures.build("mobilenet_v3_small", 2, 3, 32, path)
    assert torch.equal(rgb.features[1].block[0][0].weight, source.features[1].block[0][0].weight)


def test_pretrained_available_lists_the_backbones_with_a_weights_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LABELER_PRETRAINED_DIR", "")
    assert architectures.pretrained_available() == []
    monkeypatch.setenv("LABELER_PRETRAINED_DIR", str(tmp_path))
    (tmp_path / "efficientnet_b0.pth").write_bytes(b"")
    (tmp_path / "small-cnn.pth").write_bytes(b"")  # not a backbone: never fine-tuned
    (tmp_path / "resnet18.pth").mkdir()  # not a file
    assert architectures.pretrained_available() == ["efficientnet_b0"]


@pytest.mark.parametrize("architecture", architectures.BACKBONES)
def test_backbones_average_batch_norm_statistics_at_pytorchs_pace(architecture):
    """MobileNetV3's own 0.01 left its statistics at their start over a fine-tuning."""
    model = architectures.build(architecture, 3, 3, 32)
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {architectures.NORM_MOMENTUM}
