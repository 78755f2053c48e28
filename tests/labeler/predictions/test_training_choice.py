"""Settling a run's "auto" settings: photos with weights at hand go to a pretrained
backbone at 224 pixels, anything else to the small CNN at 32, and the run says why."""

from __future__ import annotations

import pytest

from labeler.predictions.training_choice import (
    PHOTO_SIDE,
    TrainingFacts,
    training_config_resolve,
    training_input_sizes,
)
from labeler.predictions.training_config import PER_ARCHITECTURE, training_config_clean

PHOTOS = {"median_side": 3000, "sampled": 101}
ALL_WEIGHTS = frozenset(PER_ARCHITECTURE) - {"small-cnn"}


def settle(raw=None, **facts):
    return training_config_resolve(training_config_clean(raw or {}), TrainingFacts(**facts))


def test_photos_with_weights_fine_tune_a_backbone_at_its_native_size():
    config = settle(**PHOTOS, pretrained=ALL_WEIGHTS, device="cuda")
    assert config["architecture"] == "resnet18"
    assert config["image_size"] == 224
    assert config["pretrained"] is True
    assert config["learning_rate"] == PER_ARCHITECTURE["resnet18"].learning_rate
    reason = config["choice"]["reason"]
    assert "chosen automatically" in reason and "median shorter side 3000 px" in reason
    assert "224 px (its native input size)" in reason and "pretrained weights" in reason
    assert config["choice"]["requested"]["architecture"] == "auto"
    assert config["choice"]["median_side"] == 3000


def test_on_a_cpu_the_cheapest_backbone_with_weights_is_preferred():
    assert settle(**PHOTOS, pretrained=ALL_WEIGHTS)["architecture"] == "mobilenet_v3_small"
    only = settle(**PHOTOS, pretrained={"efficientnet_b0"}, device="cuda:1")
    assert only["architecture"] == "efficientnet_b0"


@pytest.mark.parametrize(
    "facts, why",
    [
        ({**PHOTOS}, "no pretrained backbone weights"),
        ({"median_side": 28, "sampled": 50, "pretrained": ALL_WEIGHTS}, "the images are small"),
        ({"pretrained": ALL_WEIGHTS}, "no image sizes known"),
    ],
)
def test_otherwise_the_small_cnn_stays_the_default(facts, why):
    config = settle(**facts)
    assert config["architecture"] == "small-cnn"
    assert config["image_size"] == 32
    assert config["pretrained"] is False
    assert config["batch_size"] == 64
    assert why in config["choice"]["reason"]


def test_a_backbone_picked_without_a_size_trains_at_224_not_32():
    """The Models page sends only the architecture: its native size applies."""
    config = settle({"architecture": "mobilenet_v3_small"}, median_side=20)
    assert config["image_size"] == 224
    assert config["batch_norm"] == "recalibrate"
    assert config["warmup"] == PER_ARCHITECTURE["mobilenet_v3_small"].warmup
    assert config["pretrained"] is False
    assert "as the training settings say" in config["choice"]["reason"]
    assert "random weights" in config["choice"]["reason"]


def test_explicit_settings_win_over_the_choice():
    raw = {"architecture": "resnet18", "image_size": 96, "learning_rate": 0.01, "batch_size": 8}
    config = settle(raw, **PHOTOS, pretrained=ALL_WEIGHTS)
    assert (config["image_size"], config["learning_rate"], config["batch_size"]) == (96, 0.01, 8)
    assert "96 px (as set)" in config["choice"]["reason"]


def test_small_batches_keep_pretrained_statistics():
    config = settle({"batch_size": 8}, **PHOTOS, pretrained={"resnet18"}, device="cuda")
    assert config["batch_norm"] == "frozen"
    assert settle({"batch_size": 8}, **PHOTOS)["batch_norm"] == "train"  # small CNN


def test_settling_again_starts_from_what_was_asked():
    """A run claimed again by another worker is settled afresh, not from the first choice."""
    first = settle(**PHOTOS, pretrained=ALL_WEIGHTS, device="cuda")
    again = training_config_resolve(first, TrainingFacts(**PHOTOS))
    assert again["architecture"] == "small-cnn" and again["image_size"] == 32
    assert again["choice"]["requested"] == first["choice"]["requested"]


def test_a_config_stored_before_the_new_settings_still_settles():
    old = {**training_config_clean({}), "architecture": "small-cnn", "image_size": 32}
    for key in ("warmup", "batch_norm"):
        del old[key]
    config = training_config_resolve(old, TrainingFacts())
    assert config["warmup"] == 0.15 and config["batch_norm"] == "train"


def test_input_sizes_before_a_worker_settles():
    """What the thumbnail worker keeps ahead: both candidates of "auto" for photos."""
    auto = training_config_clean({})
    assert training_input_sizes(auto, None) == {32}
    assert training_input_sizes(auto, PHOTO_SIDE - 1) == {32}
    assert training_input_sizes(auto, PHOTO_SIDE) == {32, 224}
    assert training_input_sizes(training_config_clean({"architecture": "resnet18"}), 10) == {224}
    assert training_input_sizes(training_config_clean({"image_size": 48}), 4000) == {48}
