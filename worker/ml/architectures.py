"""The networks a project can train: a small CNN from scratch, or a torchvision backbone."""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labeler.predictions.training_config import ARCHITECTURES, BACKBONES
from worker.ml.config import env_text

__all__ = ["BACKBONES", "build", "normalisation_for", "pretrained_available", "pretrained_path"]
# torchvision's MobileNetV3 averages its batch norm statistics with momentum 0.01, tuned
# for ImageNet's hundreds of thousands of steps: over a fine-tuning's few hundred they
# barely leave their starting values. Every backbone here averages with PyTorch's 0.1.
NORM_MOMENTUM = 0.1
_IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class SmallCNN(nn.Module):
    """Four conv stages (16-32-64-128 channels) with batch norm, then average pooling.

    About 11 M multiply-adds per 32x32 image: it trains in seconds per epoch on a few
    CPU cores and suits small, focused label sets.
    """

    def __init__(self, num_outputs: int, channels: int) -> None:
        super().__init__()
        widths = (16, 32, 64, 128)
        layers: list[nn.Module] = [*_conv(channels, widths[0])]
        for before, after in itertools.pairwise(widths):
            layers += [nn.MaxPool2d(2), *_conv(before, after), *_conv(after, after)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(widths[-1], num_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_outputs)."""
        features = self.features(x)
        return self.head(features.mean((2, 3), keepdim=True))


def _conv(before: int, after: int) -> list[nn.Module]:
    return [
        nn.Conv2d(before, after, 3, padding=1, bias=False),
        nn.BatchNorm2d(after),
        nn.ReLU(inplace=True),
    ]


def build(
    architecture: str,
    num_outputs: int,
    channels: int,
    image_size: int,
    pretrained_path: str | None = None,
) -> nn.Module:
    """A fresh network with ``num_outputs`` logits for (N, channels, image_size, image_size).

    Backbones load ImageNet weights from ``pretrained_path`` when given (before their head
    is replaced); a grayscale input sums the first convolution's RGB filters.
    """
    if architecture == "small-cnn":
        return SmallCNN(num_outputs, channels)
    if architecture not in BACKBONES:
        raise ValueError(f"Unknown architecture {architecture!r}; use one of {ARCHITECTURES}.")
    del image_size  # the backbones pool adaptively: any size from 8 pixels works
    model = _torchvision_model(architecture)
    if pretrained_path:
        model.load_state_dict(_state_dict(pretrained_path))
    _replace_head(model, architecture, num_outputs)
    if channels == 1:
        _gray_input(model, architecture)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = NORM_MOMENTUM
    return model


def normalisation_for(architecture: str, channels: int) -> dict[str, list[float]]:
    """Per-channel mean and std the inputs are scaled by (ImageNet's for the backbones)."""
    if architecture == "small-cnn":
        return {"mean": [0.5] * channels, "std": [0.25] * channels}
    if channels == 1:
        return {"mean": [sum(_IMAGENET["mean"]) / 3], "std": [sum(_IMAGENET["std"]) / 3]}
    return {key: list(values) for key, values in _IMAGENET.items()}


def pretrained_available(directory: str | None = None) -> list[str]:
    """The backbones whose ImageNet weights this worker holds (``<architecture>.pth`` in
    ``directory``, by default the environment's ``LABELER_PRETRAINED_DIR``): those an
    "auto" training may fine-tune."""
    directory = _pretrained_dir(directory)
    if not directory:
        return []
    return [name for name in BACKBONES if (Path(directory) / f"{name}.pth").is_file()]


def pretrained_path(config: dict[str, Any], directory: str | None = None) -> str | None:
    """Where the backbone's ImageNet weights are, when the config asks for them: in
    ``directory``, by default the environment's ``LABELER_PRETRAINED_DIR``.

    Raises ``FileNotFoundError`` with what to set when ``LABELER_PRETRAINED_DIR`` or the
    file ``<architecture>.pth`` in it is missing.
    """
    if not config.get("pretrained"):
        return None
    architecture = config["architecture"]
    directory = _pretrained_dir(directory)
    if not directory:
        raise FileNotFoundError(
            "Pretrained weights asked for, but LABELER_PRETRAINED_DIR is not set: point it "
            f"at a folder holding {architecture}.pth (a torchvision state dict)."
        )
    path = Path(directory) / f"{architecture}.pth"
    if not path.is_file():
        raise FileNotFoundError(
            f"Pretrained weights asked for, but {path} does not exist: save the torchvision "
            f"{architecture} ImageNet state dict there, or train without pretrained."
        )
    return str(path)


def _pretrained_dir(directory: str | None) -> str:
    """The folder of ImageNet weights: as the worker passes it, else from the environment."""
    return env_text("LABELER_PRETRAINED_DIR", "") if directory is None else directory


def _torchvision_model(architecture: str) -> nn.Module:
    try:
        models = importlib.import_module("torchvision.models")
    except ImportError as exc:  # the worker image without the ML extras
        raise RuntimeError(
            f"Architecture {architecture} needs torchvision, which is not installed in "
            "this worker; install torchvision or use small-cnn."
        ) from exc
    model: nn.Module = getattr(models, architecture)(weights=None)
    return model


def _state_dict(path: str) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict.")
    return state


def _replace_head(model: nn.Module, architecture: str, num_outputs: int) -> None:
    if architecture == "resnet18":
        fc = model.fc
        assert isinstance(fc, nn.Linear)
        model.fc = nn.Linear(fc.in_features, num_outputs)
        return
    classifier = model.classifier
    assert isinstance(classifier, nn.Sequential)
    last = classifier[-1]
    assert isinstance(last, nn.Linear)
    classifier[-1] = nn.Linear(last.in_features, num_outputs)


def _gray_input(model: nn.Module, architecture: str) -> None:
    if architecture == "resnet18":
        parent, key = model, "conv1"
    else:  # mobilenet_v3_small and efficientnet_b0: features[0][0] is the stem convolution
        stem = model.get_submodule("features.0")
        assert isinstance(stem, nn.Sequential)
        parent, key = stem, "0"
    conv = parent.get_submodule(key)
    assert isinstance(conv, nn.Conv2d)
    gray = nn.Conv2d(
        1,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        gray.weight.copy_(conv.weight.sum(1, keepdim=True))
        if conv.bias is not None and gray.bias is not None:
            gray.bias.copy_(conv.bias)
    setattr(parent, key, gray)
