"""The training config: defaults, merging overrides, refusing bad values by key."""

from __future__ import annotations

import pytest

from labeler.errors import ValidationFailed
from labeler.predictions.training_config import training_config_clean, training_config_defaults


def test_defaults_are_complete_and_fresh():
    """The architecture and what depends on it are left to the worker; the rest is set."""
    defaults = training_config_defaults()
    assert defaults["architecture"] == "auto"
    assert defaults["batch_norm"] == "auto"
    for key in ("image_size", "pretrained", "learning_rate", "batch_size", "warmup"):
        assert defaults[key] is None
    assert defaults["augment"]["hflip"] is True
    defaults["augment"]["hflip"] = False
    assert training_config_defaults()["augment"]["hflip"] is True


@pytest.mark.parametrize("raw", [None, {}])
def test_nothing_set_gives_the_defaults(raw):
    assert training_config_clean(raw) == training_config_defaults()


def test_overrides_merge_with_defaults():
    config = training_config_clean(
        {
            "architecture": "resnet18",
            "image_size": 224,
            "learning_rate": 1,
            "augment": {"rotation": 0},
        }
    )
    assert config["architecture"] == "resnet18"
    assert config["image_size"] == 224
    assert config["learning_rate"] == 1.0 and isinstance(config["learning_rate"], float)
    assert config["augment"] == {**training_config_defaults()["augment"], "rotation": 0.0}
    assert config["epochs"] == training_config_defaults()["epochs"]


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"epoch": 3}, "training.epoch"),
        ({"epochs": 0}, "training.epochs"),
        ({"epochs": 501}, "training.epochs"),
        ({"epochs": 2.5}, "training.epochs"),
        ({"epochs": True}, "training.epochs"),
        ({"image_size": 4}, "training.image_size"),
        ({"batch_size": "64"}, "training.batch_size"),
        ({"learning_rate": 0}, "training.learning_rate"),
        ({"validation_share": 0.9}, "training.validation_share"),
        ({"architecture": "vgg"}, "training.architecture"),
        ({"balance": "oversample"}, "training.balance"),
        ({"grayscale": "yes"}, "training.grayscale"),
        ({"augment": []}, "training.augment"),
        ({"augment": {"rotation": 90}}, "training.augment.rotation"),
        ({"augment": {"blur": 1}}, "training.augment.blur"),
        ({"augment": {"hflip": 1}}, "training.augment.hflip"),
        ({"pretrained": True}, "training.pretrained"),
        ({"architecture": "small-cnn", "pretrained": True}, "training.pretrained"),
        ({"pretrained": "yes"}, "training.pretrained"),
        ({"seed": -1}, "training.seed"),
        ({"learning_rate": float("nan")}, "training.learning_rate"),
        ({"learning_rate": "fast"}, "training.learning_rate"),
        ({"batch_size": 1}, "training.batch_size"),
        ({"image_size": 513}, "training.image_size"),
        ({"warmup": 0.6}, "training.warmup"),
        ({"warmup": -0.1}, "training.warmup"),
        ({"batch_norm": "sync"}, "training.batch_norm"),
        ({"architecture": "resnet18", "batch_norm": "frozen"}, "training.batch_norm"),
        ({"architecture": "small-cnn", "batch_norm": "frozen"}, "training.batch_norm"),
        ({"architecture": "Auto"}, "training.architecture"),
    ],
)
def test_bad_value_names_its_key(raw, key):
    with pytest.raises(ValidationFailed) as caught:
        training_config_clean(raw)
    assert caught.value.message.startswith(f"{key} ")
    assert caught.value.field == "training"


def test_not_an_object_is_refused():
    with pytest.raises(ValidationFailed, match="must be an object"):
        training_config_clean(["epochs", 3])


def test_pretrained_backbone_is_accepted():
    assert training_config_clean({"architecture": "efficientnet_b0", "pretrained": True})[
        "pretrained"
    ]


@pytest.mark.parametrize("value", [None, "auto"])
def test_null_or_auto_leaves_a_setting_to_the_architecture(value):
    """null and "auto" both mean the architecture's own value, kept as None until settled."""
    raw = {key: value for key in ("image_size", "learning_rate", "batch_size", "warmup")}
    config = training_config_clean({"architecture": "resnet18", "pretrained": value, **raw})
    assert all(config[key] is None for key in (*raw, "pretrained"))


def test_a_bad_setting_that_may_be_auto_says_so():
    with pytest.raises(ValidationFailed) as caught:
        training_config_clean({"batch_size": 1})
    assert "batch norm needs 2 images" in caught.value.message
    assert "or null (auto)" in caught.value.message


def test_frozen_batch_norm_with_pretrained_weights_is_accepted():
    config = training_config_clean(
        {"architecture": "resnet18", "pretrained": True, "batch_norm": "frozen", "batch_size": 8}
    )
    assert config["batch_norm"] == "frozen"
