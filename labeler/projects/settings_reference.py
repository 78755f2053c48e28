"""The settings reference (the docs site's settings page, written at its build by
``docs_hooks/settings_reference.py``), made from the settings' declarations."""

from __future__ import annotations

import inspect
import json

from labeler.projects.settings_registry import LAYERS, ProjectSetting, project_settings

KIND_NAMES = {
    "bool": "true or false",
    "int": "whole number",
    "float": "number",
    "choice": "choice",
    "json": "object",
}

INTRODUCTION = """\
# Project settings

Each setting is declared once, by the layer that reads it, in
`labeler/<layer>/project_settings.py`: its type, default, bounds or choices, help, the
settings page's input and what follows a change. The REST API's fields
(`ProjectWriteSerializer`), the settings page's inputs (`ProjectForm`, drawn by
`templates/projects/setting_field.html`), the services' validation and the follow-ups of
`flows.project_update` are made from these declarations, and so is this page:
`manage.py settings_reference` prints it, and the docs' build writes it from that. The
values are stored on the project's row.

Percentages on the settings page are fractions (0 to 1) in the API. A setting left out
of a change keeps its value.
"""


def settings_reference_markdown() -> str:
    """The reference of every declared project setting, by owning layer, as Markdown."""
    parts = [INTRODUCTION]
    declared = project_settings()
    for layer in LAYERS:
        owned = [setting for setting in declared if setting.owner == layer]
        if owned:
            parts.append(_layer_section(layer, owned))
    return "\n".join(parts)


def _layer_section(layer: str, owned: list[ProjectSetting]) -> str:
    lines = [
        f"## {layer.capitalize()}",
        "",
        f"Declared in `labeler/{layer}/project_settings.py`.",
        "",
        "| Setting | Type | Default | Values | Settings page | After a change |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_row(setting) for setting in owned]
    lines.append("")
    for setting in owned:
        lines += [f"- `{setting.name}`: {_cell(setting.help)}"]
    lines.append("")
    return "\n".join(lines)


def _row(setting: ProjectSetting) -> str:
    cells = [
        f"`{setting.name}`",
        KIND_NAMES[setting.kind] + (" or null" if setting.nullable else ""),
        f"`{json.dumps(setting.default)}`",
        _cell(setting.describe()),
        _page_input(setting),
        _follow_up(setting),
    ]
    return "| " + " | ".join(cells) + " |"


def _page_input(setting: ProjectSetting) -> str:
    if setting.form is None:
        return "its own inputs"
    name = setting.form.name or setting.name
    return f"`{name}` (%)" if setting.form.scale == 100 else f"`{name}`"


def _follow_up(setting: ProjectSetting) -> str:
    if setting.on_change is None:
        return "nothing"
    doc = inspect.getdoc(setting.on_change) or setting.on_change.__name__
    return _cell(" ".join(doc.split("\n\n")[0].split()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
