"""Where each trained network's parts are: its last linear layer and its last feature map.

Every architecture a project trains (``architectures.build``) ends in one ``nn.Linear``
whose input is the penultimate-layer embedding (what the drift check compares), and has
one module whose output is the last spatial feature map (what a class-activation map is
drawn from). This module is the one place that knows which those are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from worker.ml.data import to_model_input
from worker.ml.weights import LoadedModel


def classifier_layer(model: nn.Module) -> nn.Linear:
    """The network's last linear layer: its input is the embedding, its output the logits."""
    head = getattr(model, "fc", None) or getattr(model, "head", None)
    head = head or getattr(model, "classifier", None)
    layer = head[-1] if isinstance(head, nn.Sequential) else head
    if not isinstance(layer, nn.Linear):
        # A model loaded for inference (``weights.for_inference``, fused by torch.fx) keeps
        # the head's layers under their names but not its Sequential: its last Linear.
        parts = head.modules() if isinstance(head, nn.Module) else []
        linear = [module for module in parts if isinstance(module, nn.Linear)]
        layer = linear[-1] if linear else layer
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"{type(model).__name__} does not end in a linear layer.")
    return layer


def feature_map_layer(model: nn.Module) -> nn.Module:
    """The module whose output is the network's last spatial feature map (N, C, h, w)."""
    name = "layer4" if hasattr(model, "layer4") else "features"  # resnet18; the others
    return model.get_submodule(name)


def probabilities_and_embeddings(
    loaded: LoadedModel, x_uint8: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (N, L) and penultimate-layer embeddings (N, D) for uint8 (N, C, H, W)."""
    captured: list[torch.Tensor] = []
    hook = classifier_layer(loaded.model).register_forward_hook(_capture_input(captured))
    try:
        with torch.inference_mode():
            inputs = to_model_input(
                x_uint8, device=loaded.device, normalisation=loaded.meta["normalisation"]
            )
            logits = loaded.model(inputs.contiguous(memory_format=torch.channels_last)).float()
            multi = loaded.meta["multi_label"]
            probs = torch.sigmoid(logits) if multi else torch.softmax(logits, 1)
    finally:
        hook.remove()
    return probs.cpu().numpy(), captured[0].float().cpu().numpy()


def _capture_input(into: list[torch.Tensor]) -> Callable[..., None]:
    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        into.append(inputs[0].detach())

    return hook
