"""Project settings declared once by their layers: storage, validation, the REST fields,
the page's inputs, the follow-ups and the reference all come from the declarations."""

from __future__ import annotations

import importlib
import importlib.util
import math
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from api.projects import ProjectWriteSerializer
from labeler.errors import ValidationFailed
from labeler.projects import settings_registry
from labeler.projects.models import Project
from labeler.projects.settings_reference import settings_reference_markdown
from labeler.projects.settings_registry import FormInput, ProjectSetting, project_settings
from labeler.web.forms import ProjectForm, setting_input

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
HOOK = ROOT / "docs_hooks" / "settings_reference.py"
# The project's own fields: everything else on the row is a declared setting.
OWN_FIELDS = {
    "id",
    "name",
    "instructions",
    "multi_label",
    "created_by",
    "agreement_refresh_due",
    "import_settles_at",
    "created_at",
    "updated_at",
}


def by_name(name: str) -> ProjectSetting:
    return next(setting for setting in project_settings() if setting.name == name)


def test_every_column_of_a_project_is_its_own_or_a_declared_setting():
    columns = {field.name for field in Project._meta.concrete_fields}
    assert columns - OWN_FIELDS == set(settings_registry.setting_names())


@pytest.mark.parametrize("setting", project_settings(), ids=lambda s: s.name)
def test_the_column_stores_the_declared_default_and_null(setting):
    column = Project._meta.get_field(setting.name)
    assert column.get_default() == setting.default
    assert column.null == setting.nullable
    assert not column.help_text, "help is declared with the setting, not on the column"


@pytest.mark.parametrize("setting", project_settings(), ids=lambda s: s.name)
def test_the_owner_declares_it_in_its_own_module(setting):
    module = importlib.import_module(f"labeler.{setting.owner}.project_settings")
    assert setting in module.SETTINGS


def test_the_reference_in_docs_is_the_one_the_declarations_make():
    """The docs site's settings page is what the declarations make, written at build time
    (docs_hooks/settings_reference.py): no copy of it is kept in docs/."""
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("settings_reference_hook", HOOK)
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert hook.settings_reference() == settings_reference_markdown()
    assert not (DOCS / hook.PAGE).exists()


def test_the_command_prints_the_reference():
    out = StringIO()
    call_command("settings_reference", stdout=out)
    assert out.getvalue() == settings_reference_markdown()
    assert "| `duplicate_distance` | whole number or null |" in out.getvalue()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("gold_rate", 1.5),
        ("gold_rate", math.nan),
        ("gold_rate", True),
        ("gold_rate", "0.5"),
        ("gold_rate", None),
        ("overlap", 0),
        ("overlap", 2.0),
        ("retrain_after", -1),
        ("duplicate_distance", 12),
        ("export_keep_metadata", "yes"),
        ("consensus_method", "mean"),
        ("training", {"epochs": "many"}),
    ],
)
def test_a_bad_value_is_refused_naming_its_setting(name, value):
    with pytest.raises(ValidationFailed) as refused:
        settings_registry.settings_check({name: value})
    assert refused.value.field == name or refused.value.field == "training"


def test_good_values_pass_and_only_settings_are_kept():
    checked = settings_registry.settings_check(
        {"name": "x", "gold_rate": 1, "duplicate_distance": None, "training": None}
    )
    assert checked == {"gold_rate": 1, "duplicate_distance": None, "training": {}}


def test_a_rule_across_settings_sees_the_project_as_it_would_be():
    with pytest.raises(ValidationFailed, match="may not be below the overlap") as refused:
        settings_registry.settings_check(
            {"overlap": 3, "overlap_mode": "adaptive", "overlap_max": 2}
        )
    assert refused.value.field == "overlap_max"


def test_settings_sharing_a_follow_up_run_it_once():
    before = {name: by_name(name).default for name in settings_registry.watched_names()}
    project = Project(overlap=2, overlap_max=6, duplicate_distance=3)
    due = settings_registry.follow_ups_due(before, project)
    assert due == [by_name("overlap").on_change, by_name("duplicate_distance").on_change]


def test_a_declaration_reused_under_the_same_name_is_refused():
    clash = ProjectSetting(name="gold_rate", owner="exports", kind="bool", default=False, help="")
    with pytest.raises(ValueError, match="declared twice"):
        settings_registry.register([clash])


@pytest.mark.parametrize("setting", project_settings(), ids=lambda s: s.name)
def test_the_rest_field_is_made_from_the_declaration(setting):
    field = ProjectWriteSerializer().fields[setting.name]
    assert not field.required
    assert field.allow_null == setting.nullable
    assert field.help_text == setting.help
    if setting.kind in ("int", "float"):
        assert (field.min_value, field.max_value) == (setting.minimum, setting.maximum)
        assert field.default == setting.default


@pytest.mark.parametrize(
    "setting", [s for s in project_settings() if s.form is not None], ids=lambda s: s.name
)
def test_the_page_input_is_made_from_the_declaration(setting):
    field = ProjectForm().fields[setting_input(setting)]
    form = setting.form or FormInput()
    assert field.required == bool(form.required)
    if setting.kind in ("int", "float") and setting.maximum is not None:
        assert field.max_value == setting.maximum * form.scale


@pytest.mark.parametrize("setting", project_settings(), ids=lambda s: s.name)
def test_every_setting_names_a_section_of_the_settings_page(setting):
    assert setting.section in settings_registry.SECTION_KEYS


def test_a_setting_without_a_known_section_is_refused():
    stray = ProjectSetting(name="stray", owner="exports", kind="bool", default=False, help="")
    with pytest.raises(ValueError, match="stray: unknown section ''"):
        settings_registry.register([stray])
    assert "stray" not in settings_registry.setting_names()


def test_only_the_essentials_are_asked_up_front():
    up_front = [s.key for s in settings_registry.SECTIONS if not s.folded]
    assert up_front == ["essentials"]
    in_it = [s.name for s in project_settings() if s.section == "essentials"]
    assert in_it == ["overlap"]
