"""Forms of the project pages: they parse what a browser sends; the services judge it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from django import forms
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.utils.datastructures import MultiValueDict

from labeler.errors import DomainError
from labeler.predictions.training_config import PER_ARCHITECTURE, training_config_defaults
from labeler.projects.hotkeys import DIGITS
from labeler.projects.labels import PALETTE
from labeler.projects.models import Project, Role
from labeler.projects.selectors import active_user_by_username
from labeler.projects.settings_registry import (
    SECTIONS,
    FormInput,
    ProjectSetting,
    SettingsSection,
    project_settings,
)
from labeler.web.setting_fields import GRIDS, SettingField

LABEL_PARTS = ("id", "name", "group", "color", "hotkey")
NEW_PROJECT_LABEL_ROWS = 2  # a single-label project needs at least two labels
# The new-project page asks for two people an image, so that agreement is measured from the
# start; the API's default (the setting's) stays 1 for scripts that set it themselves.
NEW_PROJECT_OVERLAP = 2


def default_label_row(position: int) -> dict[str, str]:
    """An empty row with the colour and hotkey the service would give that position (past
    the ninth row the hotkey is left empty: the service chooses a chord)."""
    hotkey = DIGITS[position] if position < len(DIGITS) else ""
    colour = PALETTE[position % len(PALETTE)]
    return {"id": "", "name": "", "group": "", "color": colour, "hotkey": hotkey}


def project_label_rows(project: Project) -> list[dict[str, str]]:
    """The project's stored labels as rows of the form, ids included."""
    return [
        {
            "id": str(label.pk),
            "name": label.name,
            "group": label.group,
            "color": label.color,
            "hotkey": label.hotkey,
        }
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
    """Label rows in the shape labeler.projects.labels reads; blank new rows are dropped.

    A new row's empty hotkey asks the service to choose one (a digit, or a chord past nine
    labels); an existing label's emptied hotkey means it has none.
    """

    widget = LabelRowsWidget

    def clean(self, value: Any) -> list[dict[str, Any]]:
        labels: list[dict[str, Any]] = []
        for row in value or []:
            label_id = row.get("id", "").strip()
            name = row.get("name", "")
            if not label_id and not name.strip():
                continue
            hotkey = row.get("hotkey", "").strip()
            label: dict[str, Any] = {
                "name": name,
                "group": row.get("group", ""),
                "color": row.get("color") or None,
                "hotkey": hotkey if hotkey or label_id else None,
            }
            if label_id:
                # Anything but digits goes to the service as is, which names the problem.
                label["id"] = int(label_id) if label_id.isdecimal() else label_id
            labels.append(label)
        return labels


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that sends any number of files under one name."""

    allow_multiple_selected = True


class UploadedFilesField(forms.Field):
    """The files chosen, as a list; the image services judge each one."""

    widget = MultipleFileInput

    def clean(self, value: Any) -> list[UploadedFile]:
        files = [f for f in (value if isinstance(value, list | tuple) else [value]) if f]
        limit = django_settings.LABELER_MAX_FILES_PER_REQUEST
        if len(files) > limit:
            raise forms.ValidationError(
                f"{len(files)} files chosen; at most {limit} go with the form. Choose fewer, "
                "or add the rest from the project's Upload page."
            )
        return files


@dataclass(frozen=True)
class Fold:
    """A folded section of the settings page: its declaration, its templates (its own,
    where it has inputs of the page's own, else the settings' grid), whether it is open,
    and its settings' inputs."""

    section: SettingsSection
    templates: tuple[str, ...]
    open: bool
    fields: list[SettingField]

    @property
    def grid(self) -> str:
        """The class that sets its inputs side by side (none: one a row)."""
        return GRIDS.get(self.section.columns, "")


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


# Each architecture by the name the pages, the model card and the reasons give it
# (``PER_ARCHITECTURE``'s labels: the one list of them).
ARCHITECTURE_CHOICES = [
    ("auto", "Automatic"),
    *((key, defaults.label) for key, defaults in PER_ARCHITECTURE.items()),
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
# A training key, from "training.<key>..." messages of the services -> the form's field.
TRAINING_INPUTS = {
    (f"{key}.{part}" if part else key): name for name, (key, part) in TRAINING_FIELDS.items()
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


def setting_input(setting: ProjectSetting) -> str:
    """The name of a setting's input on the settings page."""
    return (setting.form.name if setting.form else None) or setting.name


def page_settings() -> list[ProjectSetting]:
    """The settings the page asks for through inputs made from their declarations."""
    return [setting for setting in project_settings() if setting.form is not None]


def setting_form_field(setting: ProjectSetting) -> forms.Field:
    """A setting's input, from its declaration: optional unless declared required (left
    out, the stored or default value is kept), its bounds scaled as the page shows them."""
    form = setting.form or FormInput()
    messages: dict[str, str] = {}
    if form.required:
        messages["required"] = form.required
    if setting.kind == "bool":
        return forms.BooleanField(required=False)
    if setting.kind == "choice":
        if form.message:
            messages["invalid_choice"] = form.message
        return forms.ChoiceField(
            required=False, choices=[("", ""), *setting.choice_pairs], error_messages=messages
        )
    if form.message:
        messages.update(min_value=form.message, max_value=form.message)
    if form.invalid:
        messages["invalid"] = form.invalid
    low, high = setting.minimum, setting.maximum
    if setting.kind == "int" and form.scale == 1:
        return forms.IntegerField(
            required=bool(form.required),
            min_value=None if low is None else int(low),
            max_value=None if high is None else int(high),
            error_messages=messages,
        )
    return forms.FloatField(
        required=bool(form.required),
        min_value=None if low is None else low * form.scale,
        max_value=None if high is None else high * form.scale,
        error_messages=messages,
    )


class ProjectForm(DomainForm):
    """A project's settings and labels; limits are the services' to check.

    The settings' inputs are made from their declarations (``setting_form_field``); the
    training inputs are the page's own, merged into the ``training`` overrides.
    """

    name = forms.CharField(required=False, strip=False)
    instructions = forms.CharField(required=False)
    multi_label = forms.ChoiceField(
        choices=[("0", "Single label"), ("1", "Multi-label")], required=False
    )
    labels = LabelRowsField(required=False)
    images = UploadedFilesField(required=False)  # the new-project page's files
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
    augment_rotation = bounded_number(45, "The rotation is from 0 to 45 degrees.")
    augment_crop = bounded_number(0.5, "The crop is a share of the image from 0 to 0.5.")
    augment_color_jitter = bounded_number(1, "The colour jitter is from 0 to 1.")

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        for setting in page_settings():
            self.fields[setting_input(setting)] = setting_form_field(setting)

    def clean_multi_label(self) -> bool:
        return bool(self.cleaned_data.get("multi_label") == "1")

    def input_sections(self) -> dict[str, str]:
        """The section of each of the page's inputs that is not up front."""
        sections = {setting_input(s): s.section for s in page_settings()}
        sections.update({name: "training" for name in [*TRAINING_FIELDS, "training_shown"]})
        sections["instructions"] = "instructions"
        return sections

    def setting_fields(self, section: str) -> list[SettingField]:
        """The inputs of a section's settings, in their declared order on the page."""
        settings = [setting for setting in page_settings() if setting.section == section]
        settings.sort(key=lambda setting: setting.form.order if setting.form else 0)
        return [SettingField(setting, self[setting_input(setting)]) for setting in settings]

    def folds(self) -> list[Fold]:
        """The folded sections in page order, those with an error after a post open."""
        sections = self.input_sections()
        with_errors = {sections.get(name) for name in self.errors} if self.is_bound else set()
        return [
            Fold(
                section,
                (f"projects/sections/{section.key}.html", "projects/setting_fields.html"),
                section.key in with_errors,
                self.setting_fields(section.key),
            )
            for section in SECTIONS
            if section.folded
        ]

    def add_domain_error(self, exc: DomainError) -> None:
        """Show the error beside the input it is about, training keys included."""
        field = exc.field
        if field == "training":
            match = TRAINING_KEY.match(exc.message)
            field = TRAINING_INPUTS.get(match.group(1)) if match else None
        inputs = {setting.name: setting_input(setting) for setting in page_settings()}
        field = inputs.get(field or "", field)
        self.add_error(field if field in self.fields else None, exc.message)

    def settings(self) -> dict[str, Any]:
        """The cleaned values as the project services take them: rates as fractions, the
        training inputs merged into the project's stored ``training`` overrides; a setting
        whose input was left blank (or out) is left out, so its value is kept."""
        values = {name: self.cleaned_data[name] for name in ("name", "instructions", "labels")}
        values["multi_label"] = self.cleaned_data["multi_label"]
        for setting in page_settings():
            given, value = self._posted(setting)
            if given:
                values[setting.name] = value
        if self.cleaned_data["training_shown"]:
            posted = {name: self.cleaned_data[name] for name in TRAINING_FIELDS}
            if not posted["training_architecture"]:
                posted["training_architecture"] = None
            stored = self.project.training if self.project is not None else {}
            values["training"] = training_overrides(stored, posted)
        return values

    def _posted(self, setting: ProjectSetting) -> tuple[bool, Any]:
        """Whether the post sets the setting, and to what (a percentage as a fraction)."""
        form = setting.form or FormInput()
        name = setting_input(setting)
        value = self.cleaned_data.get(name)
        if setting.kind == "bool":
            return True, bool(value)
        if value is None or value == "":
            # Blank posts null where the setting takes it; left out keeps the stored one.
            return form.blank_is_null and name in self.data, None
        return True, value / form.scale if form.scale != 1 else value

    @classmethod
    def for_project(cls, project: Project) -> ProjectForm:
        """An unbound form showing the project as stored."""
        stored = {setting.name: getattr(project, setting.name) for setting in page_settings()}
        return cls(
            initial={
                "name": project.name,
                "instructions": project.instructions,
                "multi_label": "1" if project.multi_label else "0",
                "labels": project_label_rows(project),
                **cls._settings_initial(stored),
                **training_initial(project.training or {}),
            },
            project=project,
        )

    @classmethod
    def blank(cls) -> ProjectForm:
        """An unbound form for a new project, with two empty label rows."""
        rows = [default_label_row(i) for i in range(NEW_PROJECT_LABEL_ROWS)]
        defaults = {setting.name: setting.default for setting in page_settings()}
        defaults["overlap"] = NEW_PROJECT_OVERLAP
        return cls(
            initial={
                "multi_label": "0",
                "labels": rows,
                **cls._settings_initial(defaults),
                **training_initial({}),
            }
        )

    @staticmethod
    def _settings_initial(values: dict[str, Any]) -> dict[str, Any]:
        """The settings' inputs showing ``values`` (percentages for fractions)."""
        initial: dict[str, Any] = {}
        for setting in page_settings():
            scale = setting.form.scale if setting.form else 1
            value = values[setting.name]
            initial[setting_input(setting)] = (
                round(value * scale, 2) if scale != 1 and value is not None else value
            )
        return initial


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
