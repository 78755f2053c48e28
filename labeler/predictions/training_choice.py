"""Which network a run trains, at what size and with what settings, and why (torch-free).

A cleaned training config (``training_config``) may leave choices to the system. The
worker that claims a run settles them from what it knows: the project's images (a
sample's median shorter side) and the pretrained weights it holds. Photos, with weights
at hand, are fine-tuned on a pretrained backbone at its native 224 pixels; small images,
or a worker without weights, keep the small CNN at 32. The settled config carries
``choice``: what the project asked for and a sentence saying what was chosen and why.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from labeler.predictions.training_config import (
    AUTO,
    BACKBONES,
    MIN_BATCH_FOR_NORM,
    PER_ARCHITECTURE,
    PER_ARCHITECTURE_KEYS,
    training_config_defaults,
)
from labeler.words import counted

# From this median shorter side up the images are photos: they hold detail a 32-pixel
# input throws away, and a pretrained backbone sees it at 224 pixels.
PHOTO_SIDE = 128
# The backbone an "auto" run takes among those with weights at hand, by device: on a GPU
# ResNet-18 (the most forgiving to fine-tune); on a CPU MobileNetV3 (a twentieth of its
# multiply-adds), then the others.
PREFERENCE = {
    "cuda": ("resnet18", "efficientnet_b0", "mobilenet_v3_small"),
    "cpu": ("mobilenet_v3_small", "resnet18", "efficientnet_b0"),
}
_REQUESTED_KEYS = ("architecture", "pretrained", "batch_norm", *PER_ARCHITECTURE_KEYS)


@dataclass(frozen=True)
class TrainingFacts:
    """What the choice depends on: the project's images and the worker's weights files."""

    median_side: int | None = None  # median shorter side of a sample of the images
    sampled: int = 0  # how many images that median is of
    pretrained: Collection[str] = field(default_factory=frozenset)  # backbones with weights
    device: str = "cpu"

    @property
    def photos(self) -> bool:
        """Whether the images are large enough for a backbone at its native size."""
        return self.median_side is not None and self.median_side >= PHOTO_SIDE


def training_config_resolve(config: dict[str, Any], facts: TrainingFacts) -> dict[str, Any]:
    """The config with every "auto" setting decided, and ``choice`` saying how.

    A config settled before (a run claimed again) is settled afresh from what its
    project asked for, kept in ``choice.requested``; one stored before a setting existed
    takes that setting's default.
    """
    asked = config.get("choice", {}).get("requested", {})
    requested = {**training_config_defaults(), **config, **asked}
    architecture, why = _architecture(requested, facts)
    defaults = PER_ARCHITECTURE[architecture]
    settled = {key: requested[key] for key in PER_ARCHITECTURE_KEYS}
    for key in PER_ARCHITECTURE_KEYS:
        if settled[key] is None:
            settled[key] = getattr(defaults, key)
    pretrained = requested["pretrained"]
    if pretrained is None:
        pretrained = architecture in BACKBONES and architecture in facts.pretrained
    batch_norm = requested["batch_norm"]
    if batch_norm == AUTO:
        small = settled["batch_size"] < MIN_BATCH_FOR_NORM
        batch_norm = "frozen" if pretrained and small else defaults.batch_norm
    resolved = {
        **config,
        **settled,
        "architecture": architecture,
        "pretrained": bool(pretrained),
        "batch_norm": batch_norm,
    }
    resolved["choice"] = {
        "requested": {key: requested[key] for key in _REQUESTED_KEYS},
        "median_side": facts.median_side,
        "sampled": facts.sampled,
        "reason": _reason(resolved, requested, why),
    }
    return resolved


def training_input_sizes(config: dict[str, Any], median_side: int | None) -> set[int]:
    """The input sizes a run of this cleaned config may train at, before a worker settles
    it: for "auto", the small CNN's, and a backbone's too when the images are photos."""
    size = config["image_size"]
    architecture = config["architecture"]
    if architecture != AUTO:
        return {size or PER_ARCHITECTURE[architecture].image_size}
    sizes = {size or PER_ARCHITECTURE["small-cnn"].image_size}
    if TrainingFacts(median_side=median_side).photos:
        sizes.add(size or PER_ARCHITECTURE[PREFERENCE["cpu"][0]].image_size)
    return sizes


def _architecture(requested: dict[str, Any], facts: TrainingFacts) -> tuple[str, str]:
    """The architecture and why, in words."""
    asked = requested["architecture"]
    if asked != AUTO:
        return asked, "as the training settings say"
    sizes = (
        f"median shorter side {facts.median_side} px over {counted(facts.sampled, 'image')}"
        if facts.median_side is not None
        else "no image sizes known"
    )
    if not facts.photos:
        small = f"the images are small ({sizes}, under {PHOTO_SIDE})"
        return "small-cnn", f"chosen automatically: {small}"
    order = PREFERENCE.get(facts.device.split(":", 1)[0], PREFERENCE["cuda"])
    held = [name for name in order if name in facts.pretrained]
    if not held:
        return "small-cnn", (
            f"chosen automatically: the images are photos ({sizes}) but this worker holds "
            "no pretrained backbone weights (LABELER_PRETRAINED_DIR/<architecture>.pth)"
        )
    return held[0], (
        f"chosen automatically: the images are photos ({sizes}, at least {PHOTO_SIDE}) and "
        f"this worker holds pretrained {held[0]} weights (preferred on {facts.device})"
    )


def _reason(resolved: dict[str, Any], requested: dict[str, Any], why: str) -> str:
    label = PER_ARCHITECTURE[resolved["architecture"]].label
    size = resolved["image_size"]
    size_why = "its native input size" if requested["image_size"] is None else "as set"
    if resolved["architecture"] == "small-cnn":
        start = "from random weights"
    elif resolved["pretrained"]:
        start = f"fine-tuned from pretrained weights ({resolved['architecture']}.pth)"
    else:
        start = "from random weights (no pretrained weights used)"
    return (
        f"{label}, {why}; {size} px ({size_why}), {start}; peak learning rate "
        f"{resolved['learning_rate']:g} after a {resolved['warmup']:.0%} warm-up, batches of "
        f"{resolved['batch_size']}, batch norm {resolved['batch_norm']}."
    )
