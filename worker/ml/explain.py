"""Why a model chose a label: a class-activation heat map (Grad-CAM) and its overlay.

Grad-CAM weighs each channel of the network's last spatial feature map
(``anatomy.feature_map_layer``) by the mean gradient of the label's logit with respect to
it, keeps the positive sum and scales it to the input's size: where in the image the
evidence for that label lies. The maps come from pytorch-grad-cam (``grad-cam`` on PyPI),
which handles the hooks and the scaling for every network the product trains.

The functions here are pure: a loaded model and uint8 pixels in, arrays and PNG bytes
out. The model must be the unfused one (``weights.load(..., fused=False)``): a fused
model is a traced graph whose feature-map module is never called, so no hook would fire.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image as PILImage
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from worker.ml.anatomy import feature_map_layer
from worker.ml.data import to_model_input
from worker.ml.weights import LoadedModel

# The overlay's opacity where the map is cold and where it is hottest: the photo stays
# readable under the cold parts, the hot parts stand out.
ALPHA_COLD = 0.2
ALPHA_HOT = 0.65


@dataclass(frozen=True)
class Explanation:
    """A heat map for one label and the probabilities the same forward pass gave."""

    heat: np.ndarray  # float32 (h, w) in [0, 1], the model input's size
    probabilities: np.ndarray  # float32 (L,): softmax, or sigmoid if multi-label
    label_index: int  # the label explained


def heat_map(loaded: LoadedModel, image: np.ndarray, label_index: int) -> np.ndarray:
    """Grad-CAM's map (float32 (h, w) in [0, 1]) of label ``label_index`` for one uint8
    (C, h, w) image prepared as the model takes it (``model_inputs.prepare_bytes``)."""
    return explain(loaded, image, label_index).heat


def explain(loaded: LoadedModel, image: np.ndarray, label_index: int | None) -> Explanation:
    """The heat map of ``label_index`` (None: the most probable label) for one uint8
    (C, h, w) image, and the model's probabilities for it from the same forward pass.

    Raises ``IndexError`` for a label index the model has no output for, ``ValueError``
    for an image that is not (C, h, w) with the model's channel count.
    """
    labels = len(loaded.meta["label_ids"])
    if label_index is not None and not 0 <= label_index < labels:
        raise IndexError(f"The model has {labels} labels; there is no label {label_index}.")
    pixels = np.asarray(image)
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 (C, h, w) image, got {pixels.dtype} {pixels.shape}.")
    x = to_model_input(
        torch.from_numpy(np.ascontiguousarray(pixels))[None],
        device=loaded.device,
        normalisation=loaded.meta["normalisation"],
    )
    cam = GradCAM(model=loaded.model, target_layers=[feature_map_layer(loaded.model)])
    # No target: Grad-CAM takes the largest logit, the most probable label either way.
    targets = None if label_index is None else [ClassifierOutputTarget(label_index)]
    try:
        with torch.enable_grad():
            heat = cam(input_tensor=x, targets=targets)[0]
        logits = cam.outputs.detach().float()
    finally:
        cam.activations_and_grads.release()
    multi = loaded.meta["multi_label"]
    probabilities = (torch.sigmoid(logits) if multi else torch.softmax(logits, 1))[0].cpu().numpy()
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    chosen = int(np.argmax(probabilities)) if label_index is None else label_index
    return Explanation(
        heat=np.clip(heat, 0.0, 1.0), probabilities=probabilities, label_index=chosen
    )


def overlay(display: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The heat map, coloured (blue cold to red hot) and stretched to ``display``'s size,
    blended over it: uint8 (H, W, 3). ``display``: uint8 (H, W, 3) RGB or (H, W) gray."""
    base = np.asarray(display, dtype=np.uint8)
    if base.ndim == 2:
        base = np.repeat(base[:, :, None], 3, axis=2)
    height, width = base.shape[:2]
    # The model saw the image squashed to a square: stretching the map back undoes that.
    stretched = cv2.resize(heat.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    stretched = np.clip(stretched, 0.0, 1.0)
    colours = cv2.applyColorMap((255 * stretched).astype(np.uint8), cv2.COLORMAP_JET)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = (ALPHA_COLD + (ALPHA_HOT - ALPHA_COLD) * stretched)[:, :, None]
    blended = base.astype(np.float32) * (1 - alpha) + colours * alpha
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def overlay_png(display: np.ndarray, heat: np.ndarray) -> bytes:
    """``overlay`` as PNG bytes."""
    buffer = io.BytesIO()
    PILImage.fromarray(overlay(display, heat), mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()
