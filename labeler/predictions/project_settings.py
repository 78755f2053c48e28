"""The project settings the prediction layer reads: the queue's order by the model's
uncertainty, retraining, machine-label checks, suggestions, the training configuration and
the held-out test split's share."""

from __future__ import annotations

from typing import Any

from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import ActiveLearning
from labeler.projects.settings_registry import FormInput, ProjectSetting


def training_overrides_clean(raw: Any) -> dict[str, Any]:
    """The overrides as given, each checked (null: none); the defaults are not stored."""
    overrides = raw if raw is not None else {}
    cleaned = training_config_clean(overrides)
    return {key: cleaned[key] for key in overrides}


SETTINGS = (
    ProjectSetting(
        name="active_learning",
        section="model",
        owner="predictions",
        kind="choice",
        choices=ActiveLearning,
        default=ActiveLearning.MARGIN.value,
        label="active learning strategy",
        help="How the model's uncertainty orders the annotation queue.",
        form=FormInput(
            message="Choose random, least confidence, margin or entropy.",
            label="Queue order",
            help=(
                "Once a model exists, annotators get the images it is least sure of first: "
                "least confidence, smallest margin between the two likeliest labels, or "
                "highest entropy. Random ignores the model."
            ),
        ),
    ),
    ProjectSetting(
        name="active_learning_random_share",
        section="model",
        owner="predictions",
        kind="float",
        default=0.1,
        minimum=0.0,
        maximum=1.0,
        help="Share of queue positions given to random images.",
        form=FormInput(
            name="random_percent",
            scale=100,
            message="The random share of the queue is a percentage from 0 to 100.",
            label="Random share of the queue (%)",
            help=(
                "Queue positions given to random images, so that the labels stay "
                "representative of the whole set."
            ),
            anchor="random",
        ),
    ),
    ProjectSetting(
        name="retrain_after",
        section="model",
        owner="predictions",
        kind="int",
        default=200,
        minimum=0,
        words="a whole number, 0 or more (0: never)",
        help="Retrain once this many final labels were added since the last run; 0: never.",
        form=FormInput(
            message="Retrain after a number of new final labels: 0 or more (0: never).",
            invalid="Retrain after a whole number of new final labels (0: never).",
            label="Retrain after new final labels",
            help=(
                "A new model is trained by itself once this many final labels were added "
                "since the last training; 0: only when a lead asks."
            ),
            anchor="retrain",
        ),
    ),
    ProjectSetting(
        name="training",
        section="training",
        owner="predictions",
        kind="json",
        default={},
        help=(
            "Overrides of the training configuration (architecture, image_size, epochs, "
            "augment, label_check_folds (0: no label check after a training; default 5), "
            "label_check_epochs, ...); the rest keeps its defaults."
        ),
        example={"architecture": "resnet18", "image_size": 224, "epochs": 20},
        clean=training_overrides_clean,
        form=None,  # the settings page has its own inputs for the common keys
    ),
    ProjectSetting(
        name="test_share",
        section="training",
        owner="predictions",
        kind="float",
        default=0.1,
        minimum=0.05,
        maximum=0.5,
        help=(
            "Share of the final-labelled images held out as the test set, per label: never "
            "trained on, and every model version is scored and compared on it. Images are "
            "assigned once, as they get their final label; a change applies to images "
            "assigned after it (a test image stays in the test set, a development image "
            "never moves into it)."
        ),
        form=FormInput(
            name="test_percent",
            scale=100,
            message="The test set's share is a percentage from 5 to 50.",
            label="Held-out test set (%)",
            help=(
                "This share of each label's final-labelled images (5 to 50) is never trained "
                "on: every model is scored and compared on it. Images keep their side for "
                "good; a change applies to images labelled after it."
            ),
            anchor="test",
        ),
    ),
    ProjectSetting(
        name="machine_check_rate",
        section="model",
        owner="predictions",
        kind="float",
        default=0.1,
        minimum=0.0,
        maximum=1.0,
        help="Share of confirmed machine labels still sent to annotators blind.",
        form=FormInput(
            name="check_percent",
            scale=100,
            message="The spot-check rate is a percentage from 0 to 100.",
            label="Spot checks of machine labels (%)",
            help=(
                "Of the machine labels a reviewer confirms, the share still sent to "
                "annotators blind, to measure how often the model is wrong."
            ),
            anchor="check",
        ),
    ),
    ProjectSetting(
        name="suggestion_holdback",
        section="model",
        owner="predictions",
        kind="float",
        default=0.1,
        minimum=0.0,
        maximum=1.0,
        help=(
            "Share of images shown without the model's suggestion, so that spot checks look "
            "like any other image and the suggestions' sway on annotators can be measured."
        ),
        form=FormInput(
            name="holdback_percent",
            scale=100,
            message="The share of images shown without a suggestion is a percentage from 0 to 100.",
            label="Images shown without a suggestion (%)",
            help=(
                "The model's suggestion is held back on this share of images, so that spot "
                "checks look like any other image and you can see how much suggestions sway "
                "annotators."
            ),
            anchor="holdback",
        ),
    ),
    ProjectSetting(
        name="suggestion_preselect",
        section="model",
        owner="predictions",
        kind="float",
        default=0.6,
        minimum=0.0,
        maximum=1.0,
        help=(
            "The lowest confidence (0 to 1) at which the model's suggestion is pre-selected "
            "on the labelling page (Enter accepts it); below it the suggestion is shown, not "
            "selected."
        ),
        form=FormInput(
            name="preselect_percent",
            scale=100,
            message=(
                "The lowest pre-selected suggestion confidence is a percentage from 0 to 100."
            ),
            label="Pre-select suggestions from (% confidence)",
            help=(
                "A suggestion at least this confident is pre-selected, so Enter accepts it; a "
                "less confident one is shown but not selected, and the annotator picks the "
                "label."
            ),
            anchor="preselect",
        ),
    ),
)
