"""Project settings, each declared once by the layer that owns it.

A layer above ``projects`` declares its settings in its own ``project_settings`` module
(type, default, bounds or choices, help, how the settings page asks for it, what follows
a change) and registers them from its app's ``ready()``. The REST serializer, the settings
form and the inputs the page draws, the services' validation, the follow-ups of
``labeler.flows.project_update`` and the settings reference (``manage.py
settings_reference``) are all made from these declarations, as Zulip makes its realm
settings from ``Realm.property_types``.

The values are stored in columns of ``Project`` (storage only: no help, no bounds there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from labeler.errors import ValidationFailed

if TYPE_CHECKING:
    from labeler.projects.models import Project

Kind = Literal["bool", "int", "float", "choice", "json"]
FollowUp = Callable[["Project"], None]
CrossCheck = Callable[[Mapping[str, Any]], None]

# The layers that own settings, bottom-up: the order of the reference's sections.
LAYERS = (
    "webhooks",
    "annotations",
    "images",
    "agreement",
    "predictions",
    "serving",
    "monitoring",
    "exports",
)


@dataclass(frozen=True)
class SettingsSection:
    """A group of settings the settings page shows together, and what the group is for."""

    key: str
    title: str
    purpose: str  # one sentence, shown beside the title while the section is folded
    folded: bool = True  # asked up front (False) or folded away with its defaults
    columns: int = 1  # the section's inputs side by side: 1, 2 or 3 a row


# The settings page's sections, in page order. Each setting names its own; a section may
# also hold the page's own inputs (the project's instructions, the training inputs).
SECTIONS = (
    SettingsSection(
        "essentials",
        "What to label",
        "The name, the labels, how many people label each image, and the images.",
        folded=False,
    ),
    SettingsSection(
        "instructions",
        "Instructions for annotators",
        "Shown to annotators beside every image: what each label means, what to do when unsure.",
    ),
    SettingsSection(
        "labelling",
        "How annotators label",
        "One image at a time, or a page of thumbnails labelled together (grid labelling).",
        columns=2,
    ),
    SettingsSection(
        "overlap",
        "More people where they disagree",
        "Images start with the number of people above and get more while those disagree.",
        columns=3,
    ),
    SettingsSection(
        "review",
        "Final labels and review",
        "How the final label is decided, and when a reviewer decides instead.",
        columns=2,
    ),
    SettingsSection(
        "gold",
        "Gold images and qualification",
        "Images with known answers score annotators, test newcomers and pause those who slip.",
        columns=2,
    ),
    SettingsSection(
        "model",
        "Model in the loop",
        "When the model retrains, how it orders the queue, how far its suggestions are checked.",
        columns=2,
    ),
    SettingsSection(
        "training",
        "Training",
        "The model's architecture, image size, epochs, label check and augmentation.",
        columns=3,
    ),
    SettingsSection(
        "duplicates",
        "Near-duplicates",
        "Nearly alike images stay on one side of every split; differing labels go to review.",
    ),
    SettingsSection(
        "webhooks",
        "Webhooks",
        "Other systems hear what happens here: a training ended, a model promoted, an export.",
    ),
    SettingsSection(
        "privacy",
        "Exports and privacy",
        "Photos' location and camera metadata on the way in and out; file names annotators see.",
    ),
)
SECTION_KEYS = tuple(section.key for section in SECTIONS)


PageText = str | Callable[[], str]  # a text, or a function giving it when the page is drawn


@dataclass(frozen=True)
class FormInput:
    """How the settings page asks for a setting: the Django form field and the input drawn
    (``templates/projects/setting_field.html``) are both made from it.

    A whole number or a number is a number input (its bounds, scaled, its min and max), a
    bool a checkbox, a choice a list (``widget="radio"``: radio buttons, each choice with
    its words from ``choice_help``). ``label`` and ``help`` are the page's words, in its
    units (a percentage, empty for null) where the declaration's ``help`` is the API's.
    """

    name: str | None = None  # the input's name where it is not the setting's
    scale: int = 1  # 100: a percentage on the page, a fraction stored
    message: str | None = None  # shown for a value out of bounds (and a bad choice)
    invalid: str | None = None  # shown for a value that is no number; Django's by default
    required: str | None = None  # the input is required, with this message when empty
    blank_is_null: bool = False  # an empty input sets null; left out, the value is kept
    label: str = ""  # the input's label (a radio group's legend, a checkbox's words)
    help: PageText = ""  # the words under the input; `code` in backticks
    anchor: str = ""  # the ids of its help and message: "<anchor>-help"; the name's by default
    step: float = 1  # a number input's step, in the page's units
    fill_in: bool = False  # the browser asks for a value (empty would keep the stored one)
    placeholder: PageText = ""  # shown in an empty number input
    widget: Literal["select", "radio"] = "select"  # how a choice is asked for
    choice_help: tuple[tuple[str, str], ...] = ()  # (value, words) beside a radio choice
    order: int = 0  # its place in its section, lower first; alike: the settings' order


@dataclass(frozen=True)
class ProjectSetting:
    """One project setting: what it holds, who owns it, and what follows a change."""

    name: str
    owner: str
    kind: Kind
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: type[Enum] | None = None
    nullable: bool = False
    # What the setting takes, in words ("a whole number from 0 to 500 (0: no test)");
    # given, it is also the REST API's message; derived from the bounds otherwise.
    words: str | None = None
    label: str = ""  # a noun for messages about it: "consensus method"
    form: FormInput | None = field(default_factory=FormInput)
    clean: Callable[[Any], Any] | None = None  # a json setting's cleaner (raises ValidationFailed)
    example: Any = None  # a json setting's example value, for the API's schema
    check_with: CrossCheck | None = None  # a rule across settings, given them all after a change
    on_change: FollowUp | None = None  # run by flows.project_update when the value changed
    section: str = ""  # the settings page's section (a key of SECTIONS) asking for it

    @property
    def choice_values(self) -> list[str]:
        return [member.value for member in self.choices] if self.choices is not None else []

    @property
    def choice_pairs(self) -> list[tuple[str, str]]:
        """(value, label) pairs of a choice setting, as Django's TextChoices give them."""
        return list(getattr(self.choices, "choices", []))

    def describe(self) -> str:
        """What the setting takes, in words."""
        if self.words is not None:
            return self.words
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choice_values)
        if self.kind == "json":
            return "an object"
        noun = "a whole number" if self.kind == "int" else "a number"
        low, high = _number_text(self.minimum), _number_text(self.maximum)
        if self.maximum is None:
            return f"{noun}, {low} or more"
        return f"{noun} from {low} to {high}"

    def check(self, value: Any) -> Any:
        """The value as stored, or ValidationFailed naming the setting."""
        if self.kind == "json":
            return self.clean(value) if self.clean is not None else value
        if value is None:
            if self.nullable:
                return None
            raise ValidationFailed(f"{self.name} must be {self.describe()}.", field=self.name)
        if self.kind == "choice":
            if value not in self.choice_values:
                known = ", ".join(self.choice_values)
                label = self.label or self.name
                raise ValidationFailed(
                    f"Unknown {label} {value!r}; use one of {known}.", field=self.name
                )
            return value
        if not self._type_fits(value) or not self._within(value):
            raise ValidationFailed(f"{self.name} must be {self.describe()}.", field=self.name)
        return value

    def _type_fits(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.kind == "int":
            return isinstance(value, int)
        return isinstance(value, int | float) and math.isfinite(value)

    def _within(self, value: Any) -> bool:
        if self.kind == "bool":
            return True
        if self.minimum is not None and value < self.minimum:
            return False
        return self.maximum is None or value <= self.maximum


def _number_text(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


_registered: dict[str, ProjectSetting] = {}


def register(settings: Iterable[ProjectSetting]) -> None:
    """Add a layer's settings; called from its app's ``ready()`` (again: no change)."""
    for setting in settings:
        if setting.owner not in LAYERS:
            raise ValueError(f"{setting.name}: unknown owner {setting.owner!r}")
        known = _registered.get(setting.name)
        if known is not None and known != setting:
            raise ValueError(f"Project setting {setting.name!r} is declared twice.")
        if setting.section not in SECTION_KEYS:
            raise ValueError(f"{setting.name}: unknown section {setting.section!r}")
        _registered[setting.name] = setting


def project_settings() -> list[ProjectSetting]:
    """Every registered setting, by owning layer (bottom-up), then as declared."""
    return sorted(_registered.values(), key=lambda s: LAYERS.index(s.owner))


def setting_names() -> list[str]:
    return [setting.name for setting in project_settings()]


def settings_check(changes: Mapping[str, Any], current: Project | None = None) -> dict[str, Any]:
    """The registered settings among ``changes``, each checked and cleaned, then the rules
    across settings checked on the project as it would be (``current``, or the defaults
    for a new project). Other keys of ``changes`` are left out."""
    declared = project_settings()
    cleaned = {s.name: s.check(changes[s.name]) for s in declared if s.name in changes}
    after = {
        s.name: cleaned.get(s.name, s.default if current is None else getattr(current, s.name))
        for s in declared
    }
    for rule in dict.fromkeys(s.check_with for s in declared if s.check_with is not None):
        rule(after)
    return cleaned


def watched_names() -> list[str]:
    """The settings whose change has a follow-up."""
    return [s.name for s in project_settings() if s.on_change is not None]


def follow_ups_due(before: Mapping[str, Any], project: Project) -> list[FollowUp]:
    """The follow-ups of the settings that differ between ``before`` and ``project``, each
    once (settings may share one), in declaration order."""
    due = [
        s.on_change
        for s in project_settings()
        if s.on_change is not None and before.get(s.name) != getattr(project, s.name)
    ]
    return list(dict.fromkeys(due))
