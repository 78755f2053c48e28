"""A new project setting is its declaration, its column and its migration, nothing else.

A throwaway setting is declared in a module of its own, written for the test, and
registered for the test only (a property stands for its column); the settings page, the
REST serializer and the OpenAPI schema, and the settings reference all show it, each
from that declaration alone. Then the registry is as it was.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from api.projects import ProjectWriteSerializer
from labeler.projects import settings_registry
from labeler.projects.models import Project, Role
from labeler.projects.settings_reference import settings_reference_markdown
from labeler.projects.settings_registry import ProjectSetting
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

MODULE = "throwaway_project_settings"
DECLARATION = """
from labeler.projects.settings_registry import FormInput, ProjectSetting

SETTINGS = (
    ProjectSetting(
        name="skip_limit",
        section="labelling",
        owner="annotations",
        kind="int",
        default=3,
        minimum=1,
        maximum=9,
        help="How many images in a row an annotator may skip.",
        form=FormInput(
            message="An annotator skips 1 to 9 images in a row.",
            label="Skips in a row",
            help="An annotator may skip this many images in a row, then must label one.",
        ),
    ),
)
"""


def stored_skip_limit(project: Project) -> int:
    """What the column would hold: the declared default."""
    return 3


@pytest.fixture
def skip_limit(tmp_path, monkeypatch) -> Iterator[ProjectSetting]:
    """The throwaway setting, registered until the test ends."""
    (tmp_path / f"{MODULE}.py").write_text(DECLARATION)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(MODULE)
    monkeypatch.setattr(settings_registry, "_registered", dict(settings_registry._registered))
    monkeypatch.setattr(Project, "skip_limit", property(stored_skip_limit), raising=False)
    settings_registry.register(module.SETTINGS)
    yield module.SETTINGS[0]
    monkeypatch.undo()
    sys.modules.pop(MODULE)
    assert "skip_limit" not in settings_registry.setting_names()
    assert not hasattr(Project, "skip_limit")


def page_of(url: str) -> str:
    maker = UserFactory(username="maker")
    maker.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = Client()
    client.force_login(maker)
    return client.get(url).content.decode()


def section(page: str, key: str) -> str:
    start = page.index(f'id="section-{key}"')
    return page[start : page.index("</details>", start)]


INPUT = (
    '<input id="id_skip_limit" name="skip_limit" type="number" min="1" max="9" step="1" '
    'class="narrow-input" value="3" aria-describedby="skip-limit-help">'
)
HELP = (
    '<p class="help" id="skip-limit-help">An annotator may skip this many images in a row, '
    "then must label one.</p>"
)


def test_the_new_project_page_asks_for_it_in_its_section(skip_limit):
    labelling = section(page_of("/projects/new/"), "labelling")
    assert '<label for="id_skip_limit">Skips in a row</label>' in labelling
    assert INPUT in labelling
    assert HELP in labelling
    assert 'data-setting="skip_limit" data-default="3"' in labelling


def test_the_settings_page_shows_it_and_refuses_a_value_out_of_bounds(skip_limit):
    project = ProjectFactory(name="Birds")
    lead = UserFactory(username="lena")
    add_member(project, lead, Role.LEAD)
    client = Client()
    client.force_login(lead)
    url = reverse("project-edit", args=[project.pk])
    assert INPUT in section(client.get(url).content.decode(), "labelling")

    data = {"action": "save", "name": "Birds", "overlap": "1", "multi_label": "0"}
    data |= {"labels-id": "", "labels-name": ["a", "b"], "skip_limit": "12"}
    refused = client.post(url, data)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'id="skip-limit-error">An annotator skips 1 to 9 images in a row.' in page
    assert '<details class="settings-section" id="section-labelling" open>' in page


def test_the_rest_api_takes_it_and_its_schema_documents_it(skip_limit):
    field = ProjectWriteSerializer().fields["skip_limit"]
    assert (field.min_value, field.max_value, field.default) == (1, 9, 3)
    assert field.help_text == skip_limit.help
    assert not ProjectWriteSerializer(
        data={"name": "x", "labels": ["a"], "skip_limit": 10}
    ).is_valid()

    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = json.loads(OpenApiJsonRenderer().render(document))
    documented = schema["components"]["schemas"]["Project"]["properties"]["skip_limit"]
    assert documented["description"] == skip_limit.help


def test_the_settings_reference_lists_it(skip_limit):
    reference = settings_reference_markdown()
    row = (
        "| `skip_limit` | whole number | `3` | a whole number from 1 to 9 | `skip_limit` "
        "| nothing |"
    )
    assert row in reference
    assert f"- `skip_limit`: {skip_limit.help}" in reference
