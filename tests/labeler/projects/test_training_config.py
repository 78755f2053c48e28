"""The training config: defaults, merging overrides, refusing bad values by key."""

from __future__ import annotations

import pytest

from labeler.errors import ValidationFailed
from labeler.projects.training_config import training_config_clean, training_config_defaults


def test_defaults_are_complete_and_fresh():
    defaults = training_config_defaults()
    assert defaults["architecture"] == "small-cnn"
    assert defaults["image_size"] == 32
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
        ({"seed": -1}, "training.seed"),
        ({"learning_rate": float("nan")}, "training.learning_rate"),
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
