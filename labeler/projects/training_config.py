"""A project's training configuration: defaults and the one cleaning function (torch-free).

The stored ``Project.training`` holds only overrides; ``training_config_clean`` merges them
with the defaults and checks every value, so the worker always trains on a full, valid dict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NoReturn

from labeler.errors import ValidationFailed

ARCHITECTURES = ("small-cnn", "resnet18", "mobilenet_v3_small", "efficientnet_b0")
BALANCE_MODES = ("weighted_loss", "sampler", "none")
FIELD = "training"

_DEFAULTS: dict[str, Any] = {
    "architecture": "small-cnn",
    "pretrained": False,
    "image_size": 32,
    "grayscale": False,
    "epochs": 20,
    "patience": 6,
    "batch_size": 64,
    "learning_rate": 3e-3,
    "weight_decay": 1e-4,
    "validation_share": 0.1,
    "seed": 0,
    "balance": "weighted_loss",
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
    """Merge overrides with the defaults and check every value.

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
    if config["pretrained"] and config["architecture"] == "small-cnn":
        _fail("pretrained", "applies only to the torchvision backbones, not small-cnn")
    return config


def _fail(key: str, problem: str) -> NoReturn:
    name = f"{FIELD}.{key}" if key else FIELD
    raise ValidationFailed(f"{name} {problem}.", field=FIELD)


def _integer(low: int, high: int | None) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(key, _range_text("an integer", low, high))
        if value < low or (high is not None and value > high):
            _fail(key, _range_text("an integer", low, high))
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
    "architecture": _choice(ARCHITECTURES),
    "pretrained": _boolean,
    "image_size": _integer(8, 512),
    "grayscale": _boolean,
    "epochs": _integer(1, 500),
    "patience": _integer(1, 100),
    "batch_size": _integer(1, 1024),
    "learning_rate": _number(0.0, 1.0, low_open=True),
    "weight_decay": _number(0.0, 1.0),
    "validation_share": _number(0.05, 0.5),
    "seed": _integer(0, 2**31 - 1),
    "balance": _choice(BALANCE_MODES),
    "augment": _augment,
}
