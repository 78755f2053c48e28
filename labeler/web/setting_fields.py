"""The settings page's inputs, drawn from the settings' declarations.

Each registered setting the page asks for becomes a ``SettingField``: its declaration and
the form's bound field, with what ``templates/projects/setting_field.html`` needs to draw
it (label, input kind, bounds and step in the page's units, default, choices, help, the
ids its help and message carry). Nothing about a setting is written in a template.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from django.forms import BoundField
from django.utils.safestring import SafeString, mark_safe

from labeler.projects.settings_registry import FormInput, PageText, ProjectSetting

CODE = re.compile(r"`([^`]+)`")
GRIDS = {2: "two-columns", 3: "three-columns"}


def page_text(text: PageText) -> SafeString:
    """A declaration's words as the page shows them: escaped, `code` in backticks set as
    code; a function is asked for them now (they name a server setting)."""
    words = text() if callable(text) else text
    return mark_safe(CODE.sub(r"<code>\1</code>", html.escape(words, quote=False)))


def page_number(value: float | None, scale: int = 1) -> str:
    """A bound or step as an input's attribute: scaled, without a trailing ``.0``."""
    if value is None:
        return ""
    scaled = round(value * scale, 6)
    return str(int(scaled)) if float(scaled).is_integer() else str(scaled)


@dataclass(frozen=True)
class Choice:
    """One option of a choice setting's list or radio group."""

    value: str
    label: SafeString
    help: SafeString
    chosen: bool


@dataclass(frozen=True)
class SettingField:
    """One setting's input on the settings page: its declaration and the bound field."""

    setting: ProjectSetting
    field: BoundField

    @property
    def form_input(self) -> FormInput:
        return self.setting.form or FormInput()

    @property
    def name(self) -> str:
        return self.field.html_name

    @property
    def anchor(self) -> str:
        """The stem of the ids of its help and message ("<anchor>-help")."""
        return self.form_input.anchor or self.name.replace("_", "-")

    @property
    def widget(self) -> str:
        """checkbox, radio, select or number."""
        if self.setting.kind == "bool":
            return "checkbox"
        if self.setting.kind == "choice":
            return self.form_input.widget
        return "number"

    @property
    def label(self) -> SafeString:
        return page_text(self.form_input.label)

    @property
    def help(self) -> SafeString:
        return page_text(self.form_input.help)

    @property
    def placeholder(self) -> str:
        placeholder = self.form_input.placeholder
        return placeholder() if callable(placeholder) else placeholder

    @property
    def minimum(self) -> str:
        return page_number(self.setting.minimum, self.form_input.scale)

    @property
    def maximum(self) -> str:
        return page_number(self.setting.maximum, self.form_input.scale)

    @property
    def step(self) -> str:
        return page_number(self.form_input.step)

    @property
    def required(self) -> bool:
        """Whether the browser asks for a value before the form goes."""
        return bool(self.form_input.required) or self.form_input.fill_in

    @property
    def default(self) -> str:
        """The declared default as the input would show it (empty for null)."""
        default: Any = self.setting.default
        if self.setting.kind in ("int", "float"):
            return page_number(default, self.form_input.scale)
        if self.setting.kind == "bool":
            return "on" if default else ""
        return "" if default is None else str(default)

    @property
    def value(self) -> str:
        """The input's value as shown: stored, initial or posted; empty for none."""
        value = self.field.value()
        return "" if value is None else str(value)

    @property
    def checked(self) -> bool:
        return bool(self.field.value())

    @property
    def choices(self) -> list[Choice]:
        """The options; with a value that is none of them, a radio group checks the default."""
        shown = self.value
        values = self.setting.choice_values
        fallback = shown not in values and self.widget == "radio"
        words = {str(getattr(key, "value", key)): text for key, text in self.form_input.choice_help}
        return [
            Choice(
                value=value,
                label=page_text(str(label)),
                help=page_text(words.get(value, "")),
                chosen=value == shown or (fallback and value == self.setting.default),
            )
            for value, label in self.setting.choice_pairs
        ]
