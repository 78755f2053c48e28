"""A project's training configuration: defaults and the one cleaning function (torch-free).

The stored ``Project.training`` holds only overrides; ``training_config_clean`` merges them
with the defaults and checks every value. Some settings default to "pick for me"
(``architecture`` "auto", ``batch_norm`` "auto"; ``image_size``, ``pretrained``,
``learning_rate``, ``batch_size`` and ``warmup`` None): the worker that claims a run
settles them from what it holds and the project's images
(``labeler.predictions.training_choice``), so it always trains on a full, concrete dict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from labeler.errors import ValidationFailed

ARCHITECTURES = ("small-cnn", "resnet18", "mobilenet_v3_small", "efficientnet_b0")
AUTO = "auto"
BALANCE_MODES = ("weighted_loss", "sampler", "none")
# How batch norm layers learn their statistics: "train" (a running average, as PyTorch
# does), "recalibrate" (that, then measured again on the training images, without
# augmentation, before each validation), "frozen" (the pretrained weights' statistics
# kept; their scale and shift still train).
BATCH_NORM_MODES = ("train", "recalibrate", "frozen")
FIELD = "training"
# Below this batch size a batch's statistics are too noisy to train batch norm on: a
# pretrained backbone keeps its ImageNet statistics instead ("frozen", when "auto").
MIN_BATCH_FOR_NORM = 16


@dataclass(frozen=True)
class ArchitectureDefaults:
    """What an architecture trains with unless the project says otherwise."""

    image_size: int  # its native input size
    learning_rate: float  # AdamW's peak, reached after the warm-up
    batch_size: int
    warmup: float  # share of the steps spent warming the learning rate up
    batch_norm: str  # without pretrained weights, or with batches large enough
    label: str


# Backbones fine-tune at their native 224 pixels, at a lower peak rate than the small CNN
# (3e-3 on MobileNetV3 and EfficientNet overshoots in the first epochs). Their depthwise
# convolutions change scale quickly while they learn, so their batch norms' running
# averages lag behind: measured from random weights on four shapes, MobileNetV3 predicted
# one class for everything (25 %, with its training loss near 0) until its statistics
# were measured again (77 %); they recalibrate, and warm up over a longer share.
PER_ARCHITECTURE: dict[str, ArchitectureDefaults] = {
    "small-cnn": ArchitectureDefaults(32, 3e-3, 64, 0.15, "train", "Small CNN"),
    "resnet18": ArchitectureDefaults(224, 1e-3, 32, 0.15, "train", "ResNet-18"),
    "mobilenet_v3_small": ArchitectureDefaults(
        224, 1e-3, 32, 0.3, "recalibrate", "MobileNetV3 small"
    ),
    "efficientnet_b0": ArchitectureDefaults(224, 1e-3, 32, 0.3, "recalibrate", "EfficientNet-B0"),
}
BACKBONES = tuple(name for name in ARCHITECTURES if name != "small-cnn")
# The settings an architecture decides when the project leaves them as None.
PER_ARCHITECTURE_KEYS = ("image_size", "learning_rate", "batch_size", "warmup")

_DEFAULTS: dict[str, Any] = {
    "architecture": AUTO,
    "pretrained": None,
    "image_size": None,
    "grayscale": False,
    "epochs": 20,
    "patience": 6,
    "batch_size": None,
    "learning_rate": None,
    "warmup": None,
    "batch_norm": AUTO,
    "weight_decay": 1e-4,
    "validation_share": 0.1,
    "seed": 0,
    "balance": "weighted_loss",
    # After a training, every final-labelled image is predicted by a model that never saw
    # it: k models, each trained on all the other folds (``worker.label_check``); 0 = off.
    "label_check_folds": 5,
    # The fold models' epochs; null: half the run's own. Fewer is cheaper (k runs of it)
    # and fits the noisy labels less, which is what makes a wrong one stand out.
    "label_check_epochs": None,
    "augment": {
        "hflip": True,
        "vflip": False,
        "rotation": 10.0,
        "crop": 0.1,
        "color_jitter": 0.2,
    },
}


def training_config_defaults() -> dict[str, Any]:
    """The full default training configuration (a fresh copy the caller may change)."""
    return copy.deepcopy(_DEFAULTS)


def training_config_clean(raw: Any) -> dict[str, Any]:
    """Merge overrides with the defaults and check every value and their combination.

    Raises ``ValidationFailed`` (field ``training``) whose message names the bad key.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        _fail("", "must be an object of training settings")
    config = training_config_defaults()
    for key, value in raw.items():
        if key not in _CHECKS:
            _fail(key, f"is not a training setting (known: {', '.join(sorted(_CHECKS))})")
        config[key] = _CHECKS[key](key, value)
    _combination_check(config)
    return config


def _combination_check(config: dict[str, Any]) -> None:
    architecture, pretrained = config["architecture"], config["pretrained"]
    if pretrained and architecture == "small-cnn":
        _fail("pretrained", "applies only to the torchvision backbones, not small-cnn")
    if pretrained and architecture == AUTO:
        _fail(
            "pretrained",
            "true needs a backbone architecture; with architecture auto, pretrained "
            "weights are used whenever the worker holds them",
        )
    if config["batch_norm"] == "frozen" and pretrained is not True:
        _fail(
            "batch_norm",
            "frozen keeps the statistics of pretrained weights: it needs a backbone with "
            "pretrained true",
        )


def _fail(key: str, problem: str) -> NoReturn:
    name = f"{FIELD}.{key}" if key else FIELD
    raise ValidationFailed(f"{name} {problem}.", field=FIELD)


def _integer(low: int, high: int | None, why: str = "") -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(key, _range_text("an integer", low, high) + why)
        if value < low or (high is not None and value > high):
            _fail(key, _range_text("an integer", low, high) + why)
        return int(value)

    return check


def _number(low: float, high: float, *, low_open: bool = False) -> Callable[[str, Any], float]:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            _fail(key, _range_text("a number", low, high))
        too_low = value <= low if low_open else value < low
        if too_low or value > high:
            _fail(key, _range_text("a number", low, high, low_open=low_open))
        return float(value)

    return check


def _or_auto(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """``check``, or None for null and "auto": the architecture decides."""

    def either(key: str, value: Any) -> Any:
        if value is None or value == AUTO:
            return None
        try:
            return check(key, value)
        except ValidationFailed as exc:
            message = exc.message.rstrip(".")
            raise ValidationFailed(
                f"{message}, or null (auto) for the architecture's own.", field=FIELD
            ) from None

    return either


def _range_text(kind: str, low: float, high: float | None, *, low_open: bool = False) -> str:
    if high is None:
        return f"must be {kind} of at least {low}"
    lower = "above" if low_open else "from"
    return f"must be {kind} {lower} {low} to {high}"


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        _fail(key, "must be true or false")
    return bool(value)


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            _fail(key, f"must be one of {', '.join(choices)}")
        return str(value)

    return check


MAX_LABEL_CHECK_FOLDS = 20


def _folds(key: str, value: Any) -> int:
    """0 (no label check) or 2 to MAX_LABEL_CHECK_FOLDS folds."""
    if isinstance(value, bool) or not isinstance(value, int) or value == 1:
        _fail(key, f"must be 0 (off) or an integer from 2 to {MAX_LABEL_CHECK_FOLDS}")
    if value < 0 or value > MAX_LABEL_CHECK_FOLDS:
        _fail(key, f"must be 0 (off) or an integer from 2 to {MAX_LABEL_CHECK_FOLDS}")
    return int(value)


_AUGMENT_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "hflip": _boolean,
    "vflip": _boolean,
    "rotation": _number(0.0, 45.0),
    "crop": _number(0.0, 0.5),
    "color_jitter": _number(0.0, 1.0),
}


def _augment(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(key, "must be an object (hflip, vflip, rotation, crop, color_jitter)")
    merged = dict(_DEFAULTS["augment"])
    for name, item in value.items():
        if name not in _AUGMENT_CHECKS:
            _fail(f"{key}.{name}", f"is not an augmentation (known: {', '.join(_AUGMENT_CHECKS)})")
        merged[name] = _AUGMENT_CHECKS[name](f"{key}.{name}", item)
    return merged


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "architecture": _choice((AUTO, *ARCHITECTURES)),
    "pretrained": _or_auto(_boolean),
    "image_size": _or_auto(_integer(8, 512)),
    "grayscale": _boolean,
    "epochs": _integer(1, 500),
    "patience": _integer(1, 100),
    # Batch norm cannot train on a batch of one image.
    "batch_size": _or_auto(_integer(2, 1024, " (batch norm needs 2 images a batch)")),
    "learning_rate": _or_auto(_number(0.0, 1.0, low_open=True)),
    "warmup": _or_auto(_number(0.0, 0.5)),
    "batch_norm": _choice((AUTO, *BATCH_NORM_MODES)),
    "weight_decay": _number(0.0, 1.0),
    "validation_share": _number(0.05, 0.5),
    "seed": _integer(0, 2**31 - 1),
    "balance": _choice(BALANCE_MODES),
    "label_check_folds": _folds,
    "label_check_epochs": _or_auto(_integer(1, 500)),
    "augment": _augment,
}
