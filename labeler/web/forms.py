"""Forms of the project pages: they parse what a browser sends; the services judge it."""

from __future__ import annotations

import re
from itertools import zip_longest
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.datastructures import MultiValueDict

from labeler.errors import DomainError
from labeler.projects.labels import DEFAULT_HOTKEYS, PALETTE
from labeler.projects.models import (
    DUPLICATE_DISTANCE_MAX,
    ActiveLearning,
    ConsensusMethod,
    OverlapMode,
    Project,
    Role,
)
from labeler.projects.selectors import active_user_by_username
from labeler.predictions.training_config import training_config_defaults

LABEL_PARTS = ("id", "name", "color", "hotkey")
NEW_PROJECT_LABEL_ROWS = 2  # a single-label project needs at least two labels


def default_label_row(position: int) -> dict[str, str]:
    """An empty row with the colour and hotkey the service would give that position."""
    hotkey = DEFAULT_HOTKEYS[position] if position < len(DEFAULT_HOTKEYS) else ""
    return {"id": "", "name": "", "color": PALETTE[position % len(PALETTE)], "hotkey": hotkey}


def project_label_rows(project: Project) -> list[dict[str, str]]:
    """The project's stored labels as rows of the form, ids included."""
    return [
        {"id": str(label.pk), "name": label.name, "color": label.color, "hotkey": label.hotkey}
        for label in project.labels.all()
    ]


class LabelRowsWidget(forms.Widget):
    """Reads label rows from parallel lists: labels-id, labels-name, labels-color, ...

    The template draws the rows itself (project-form.js adds and removes them).
    """

    def value_from_datadict(
        self, data: Any, files: MultiValueDict[str, Any], name: str
    ) -> list[dict[str, str]]:
        columns = [data.getlist(f"{name}-{part}") for part in LABEL_PARTS]
        return [
            dict(zip(LABEL_PARTS, row, strict=True)) for row in zip_longest(*columns, fillvalue="")
        ]


class LabelRowsField(forms.Field):
    """Label rows in the shape labeler.projects.labels reads; blank new rows are dropped."""

    widget = LabelRowsWidget

    def clean(self, value: Any) -> list[dict[str, Any]]:
        labels: list[dict[str, Any]] = []
        for row in value or []:
            label_id = row.get("id", "").strip()
            name = row.get("name", "")
            if not label_id and not name.strip():
                continue
            label: dict[str, Any] = {
                "name": name,
                "color": row.get("color") or None,
                "hotkey": row.get("hotkey", "").strip(),
            }
            if label_id:
                # Anything but digits goes to the service as is, which names the problem.
                label["id"] = int(label_id) if label_id.isdecimal() else label_id
            labels.append(label)
        return labels


def bounded_number(maximum: float, message: str) -> forms.FloatField:
    """An optional number from 0 to ``maximum``, with one message for either bound."""
    return forms.FloatField(
        required=False,
        min_value=0,
        max_value=maximum,
        error_messages={"min_value": message, "max_value": message},
    )


class DomainForm(forms.Form):
    """A form that shows a service's DomainError beside the field it names (or above)."""

    def add_domain_error(self, exc: DomainError) -> None:
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, exc.message)


ARCHITECTURE_CHOICES = [
    ("auto", "Automatic"),
    ("small-cnn", "Small CNN"),
    ("resnet18", "ResNet-18"),
    ("mobilenet_v3_small", "MobileNetV3 small"),
    ("efficientnet_b0", "EfficientNet-B0"),
]
# The training inputs of the form: form field -> (key in Project.training, key in its augment).
TRAINING_FIELDS: dict[str, tuple[str, str | None]] = {
    "training_architecture": ("architecture", None),
    "training_image_size": ("image_size", None),
    "training_epochs": ("epochs", None),
    "training_label_check_folds": ("label_check_folds", None),
    "augment_hflip": ("augment", "hflip"),
    "augment_vflip": ("augment", "vflip"),
    "augment_rotation": ("augment", "rotation"),
    "augment_crop": ("augment", "crop"),
    "augment_color_jitter": ("augment", "color_jitter"),
}
# A service's field (or training key, from "training.<key>..." messages) -> the form's field.
SERVICE_FIELDS = {
    "gold_rate": "gold_percent",
    "active_learning_random_share": "random_percent",
    "machine_check_rate": "check_percent",
    "suggestion_holdback": "holdback_percent",
    "adaptive_confidence": "adaptive_percent",
    "suggestion_preselect": "preselect_percent",
    "qualification_pass_mark": "pass_percent",
    "gold_pause_below": "pause_below_percent",
    **{(f"{key}.{part}" if part else key): name for name, (key, part) in TRAINING_FIELDS.items()},
}
TRAINING_KEY = re.compile(r"^training\.([a-z_]+(?:\.[a-z_]+)?)")


def training_initial(training: dict[str, Any]) -> dict[str, Any]:
    """The form's training inputs showing a stored ``Project.training`` over the defaults."""
    config = training_config_defaults()
    for key, value in training.items():
        if key == "augment" and isinstance(value, dict):
            config["augment"].update(value)
        else:
            config[key] = value
    return {
        name: config[key][part] if part else config[key]
        for name, (key, part) in TRAINING_FIELDS.items()
    }


def training_overrides(stored: dict[str, Any], posted: dict[str, Any]) -> dict[str, Any]:
    """``Project.training`` after the form: the stored overrides with the posted values set;
    a value equal to its default is left out, so that the default keeps applying. A blank
    input whose default is blank too (the image size: the architecture's own) goes back
    to that default; other blank inputs keep what was stored."""
    defaults = training_config_defaults()
    overrides = {key: value for key, value in stored.items() if key != "augment"}
    augment = dict(stored.get("augment") or {})
    for name, (key, part) in TRAINING_FIELDS.items():
        value = posted.get(name)
        target, default = (augment, defaults[key][part]) if part else (overrides, defaults[key])
        if value is None and default is not None:
            continue
        slot = part or key
        if value == default:
            target.pop(slot, None)
        else:
            target[slot] = value
    if augment:
        overrides["augment"] = augment
    return overrides


DUPLICATE_DISTANCE_WORDS = (
    f"The near-duplicate distance is a whole number of bits from 0 to {DUPLICATE_DISTANCE_MAX}, "
    "-1 for no grouping, or empty for the server's distance."
)


class ProjectForm(DomainForm):
    """A project's settings and labels; limits are the services' to check."""

    name = forms.CharField(required=False, strip=False)
    instructions = forms.CharField(required=False)
    multi_label = forms.ChoiceField(
        choices=[("0", "Single label"), ("1", "Multi-label")], required=False
    )
    overlap = forms.IntegerField(error_messages={"required": "Give the overlap, e.g. 1."})
    labels = LabelRowsField(required=False)
    # Left out of a post, the quality settings keep their stored (or default) values.
    consensus_method = forms.ChoiceField(
        required=False,
        choices=[("", ""), *ConsensusMethod.choices],
        error_messages={"invalid_choice": "Choose majority vote or Dawid-Skene."},
    )
    review_threshold = bounded_number(1, "The review threshold is a confidence from 0 to 1.")
    gold_percent = bounded_number(100, "The share of gold images is a percentage from 0 to 100.")
    # How many annotators an image gets: always overlap, or adaptively up to overlap_max.
    overlap_mode = forms.ChoiceField(
        required=False,
        choices=[("", ""), *OverlapMode.choices],
        error_messages={"invalid_choice": "Choose fixed or adaptive overlap."},
    )
    overlap_max = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=50,
        error_messages={
            "min_value": "The most annotators an image gets is from 1 to 50.",
            "max_value": "The most annotators an image gets is from 1 to 50.",
            "invalid": "The most annotators an image gets is a whole number from 1 to 50.",
        },
    )
    adaptive_percent = bounded_number(
        100, "The confidence adaptive overlap asks for is a percentage from 0 to 100."
    )
    # The model: queue order, retraining, machine-label checks and the training configuration.
    active_learning = forms.ChoiceField(
        required=False,
        choices=[("", ""), *ActiveLearning.choices],
        error_messages={"invalid_choice": "Choose random, least confidence, margin or entropy."},
    )
    random_percent = bounded_number(
        100, "The random share of the queue is a percentage from 0 to 100."
    )
    retrain_after = forms.IntegerField(
        required=False,
        min_value=0,
        error_messages={
            "min_value": "Retrain after a number of new final labels: 0 or more (0: never).",
            "invalid": "Retrain after a whole number of new final labels (0: never).",
        },
    )
    check_percent = bounded_number(100, "The spot-check rate is a percentage from 0 to 100.")
    holdback_percent = bounded_number(
        100, "The share of images shown without a suggestion is a percentage from 0 to 100."
    )
    preselect_percent = bounded_number(
        100, "The lowest pre-selected suggestion confidence is a percentage from 0 to 100."
    )
    # Who may label: the qualification test and the pause on low gold accuracy.
    qualification_gold_count = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=500,
        error_messages={
            "min_value": "The test has 0 to 500 gold images (0: no test).",
            "max_value": "The test has 0 to 500 gold images (0: no test).",
            "invalid": "The test's size is a whole number of gold images (0: no test).",
        },
    )
    pass_percent = bounded_number(100, "The pass mark is a percentage from 0 to 100.")
    pause_below_percent = bounded_number(
        100, "The pause's gold accuracy is a percentage from 0 to 100 (0: never)."
    )
    gold_pause_window = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        error_messages={
            "min_value": "The pause looks at 1 to 1000 gold answers.",
            "max_value": "The pause looks at 1 to 1000 gold answers.",
            "invalid": "The pause looks at a whole number of gold answers, 1 to 1000.",
        },
    )
    # Present (hidden) when the training inputs were on the page: unticked boxes then mean off.
    training_shown = forms.BooleanField(required=False, widget=forms.HiddenInput)
    training_architecture = forms.ChoiceField(
        required=False,
        choices=[("", ""), *ARCHITECTURE_CHOICES],
        error_messages={"invalid_choice": "Choose one of the architectures listed."},
    )
    training_image_size = forms.IntegerField(
        required=False,
        min_value=8,
        max_value=512,
        error_messages={
            "min_value": "The image size is from 8 to 512 pixels.",
            "max_value": "The image size is from 8 to 512 pixels.",
            "invalid": "The image size is a whole number of pixels, from 8 to 512.",
        },
    )
    training_epochs = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=500,
        error_messages={
            "min_value": "Train for 1 to 500 epochs.",
            "max_value": "Train for 1 to 500 epochs.",
            "invalid": "The number of epochs is a whole number from 1 to 500.",
        },
    )
    training_label_check_folds = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=20,
        error_messages={
            "min_value": "Check labels with 2 to 20 folds, or 0 for no check.",
            "max_value": "Check labels with 2 to 20 folds, or 0 for no check.",
            "invalid": "The label check's folds are a whole number: 0 (off) or 2 to 20.",
        },
    )
    augment_hflip = forms.BooleanField(required=False)
    augment_vflip = forms.BooleanField(required=False)
    # Near-duplicates: blank posts null (the server's distance); left out keeps the stored one.
    duplicate_distance = forms.IntegerField(
        required=False,
        min_value=-1,
        max_value=DUPLICATE_DISTANCE_MAX,
        error_messages={
            "min_value": DUPLICATE_DISTANCE_WORDS,
            "max_value": DUPLICATE_DISTANCE_WORDS,
            "invalid": DUPLICATE_DISTANCE_WORDS,
        },
    )
    export_keep_metadata = forms.BooleanField(required=False)
    strip_metadata_on_ingest = forms.BooleanField(required=False)
    augment_rotation = bounded_number(45, "The rotation is from 0 to 45 degrees.")
    augment_crop = bounded_number(0.5, "The crop is a share of the image from 0 to 0.5.")
    augment_color_jitter = bounded_number(1, "The colour jitter is from 0 to 1.")

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_multi_label(self) -> bool:
        return bool(self.cleaned_data.get("multi_label") == "1")

    def add_domain_error(self, exc: DomainError) -> None:
        """Show the error beside the input it is about, training keys included."""
        field = exc.field
        if field == "training":
            match = TRAINING_KEY.match(exc.message)
            field = SERVICE_FIELDS.get(match.group(1)) if match else None
        field = SERVICE_FIELDS.get(field or "", field)
        self.add_error(field if field in self.fields else None, exc.message)

    def settings(self) -> dict[str, Any]:
        """The cleaned values as the project services take them: rates as fractions, the
        training inputs merged into the project's stored ``training`` overrides."""
        values = dict(self.cleaned_data)
        for percent, rate in (
            ("gold_percent", "gold_rate"),
            ("random_percent", "active_learning_random_share"),
            ("check_percent", "machine_check_rate"),
            ("holdback_percent", "suggestion_holdback"),
            ("adaptive_percent", "adaptive_confidence"),
            ("preselect_percent", "suggestion_preselect"),
            ("pass_percent", "qualification_pass_mark"),
            ("pause_below_percent", "gold_pause_below"),
        ):
            share = values.pop(percent)
            if share is not None:
                values[rate] = share / 100
        posted = {name: values.pop(name) for name in TRAINING_FIELDS}
        if values.pop("training_shown"):
            if not posted["training_architecture"]:
                posted["training_architecture"] = None
            stored = self.project.training if self.project is not None else {}
            values["training"] = training_overrides(stored, posted)
        for name in (
            "review_threshold",
            "retrain_after",
            "overlap_max",
            "qualification_gold_count",
            "gold_pause_window",
        ):
            if values[name] is None:
                del values[name]
        for name in ("consensus_method", "active_learning", "overlap_mode"):
            if not values[name]:
                del values[name]
        if "duplicate_distance" not in self.data:
            del values["duplicate_distance"]
        return values

    @classmethod
    def for_project(cls, project: Project) -> ProjectForm:
        """An unbound form showing the project as stored."""
        return cls(
            initial={
                "name": project.name,
                "instructions": project.instructions,
                "multi_label": "1" if project.multi_label else "0",
                "overlap": project.overlap,
                "labels": project_label_rows(project),
                "consensus_method": project.consensus_method,
                "review_threshold": project.review_threshold,
                "gold_percent": round(project.gold_rate * 100, 2),
                **cls._overlap_initial(project),
                **cls._model_initial(project),
            },
            project=project,
        )

    @staticmethod
    def _overlap_initial(project: Project) -> dict[str, Any]:
        return {
            "overlap_mode": project.overlap_mode,
            "overlap_max": project.overlap_max,
            "adaptive_percent": round(project.adaptive_confidence * 100, 2),
        }

    @classmethod
    def blank(cls) -> ProjectForm:
        """An unbound form for a new project, with two empty label rows."""
        rows = [default_label_row(i) for i in range(NEW_PROJECT_LABEL_ROWS)]
        defaults = Project()  # an unsaved project holds the model's defaults
        return cls(
            initial={
                "multi_label": "0",
                "overlap": 1,
                "labels": rows,
                "consensus_method": defaults.consensus_method,
                "review_threshold": defaults.review_threshold,
                "gold_percent": round(defaults.gold_rate * 100, 2),
                **cls._overlap_initial(defaults),
                **cls._model_initial(defaults),
            }
        )

    @staticmethod
    def _model_initial(project: Project) -> dict[str, Any]:
        return {
            "active_learning": project.active_learning,
            "random_percent": round(project.active_learning_random_share * 100, 2),
            "retrain_after": project.retrain_after,
            "check_percent": round(project.machine_check_rate * 100, 2),
            "holdback_percent": round(project.suggestion_holdback * 100, 2),
            "preselect_percent": round(project.suggestion_preselect * 100, 2),
            "export_keep_metadata": project.export_keep_metadata,
            "strip_metadata_on_ingest": project.strip_metadata_on_ingest,
            "qualification_gold_count": project.qualification_gold_count,
            "pass_percent": round(project.qualification_pass_mark * 100, 2),
            "pause_below_percent": round(project.gold_pause_below * 100, 2),
            "gold_pause_window": project.gold_pause_window,
            "duplicate_distance": project.duplicate_distance,
            **training_initial(project.training or {}),
        }


class MemberAddForm(DomainForm):
    """Add a member by username, or change the role of one already there."""

    username = forms.CharField(
        max_length=150, error_messages={"required": "Give the username of the person to add."}
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        # The case of a name is forgiven when only one account could be meant.
        user = active_user_by_username(username)
        if user is None:
            raise forms.ValidationError(
                f"There is no user named “{username}”. Check the spelling, or ask an admin "
                "to create the account first."
            )
        return user


class MemberRoleForm(forms.Form):
    """Change one member's role."""

    role = forms.ChoiceField(choices=Role.choices)
