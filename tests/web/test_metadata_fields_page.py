"""The Fields page: a lead adds, renames, rechoices and removes the project's fields; a
refused form answers 400 with the reason on the page, and changes nothing."""

from __future__ import annotations

import pytest

from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import image_describe
from labeler.images.models import MetadataField

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/projects/{project.pk}/fields/"


def names(project) -> dict[str, tuple[str, list[str]]]:
    return {f.name: (f.kind, f.choices) for f in MetadataField.objects.filter(project=project)}


def test_a_lead_adds_renames_and_removes_fields(client, lead, project):
    client.force_login(lead)
    assert "No fields yet" in client.get(url(project)).content.decode()
    form = {"action": "add", "name": "site", "kind": "choice", "choices": "north\nsouth, east"}
    added = client.post(url(project), form)
    assert added.status_code == 302
    assert names(project) == {"site": ("choice", ["north", "south", "east"])}
    site = MetadataField.objects.get(project=project)
    client.post(
        url(project),
        {"action": "change", "field": site.pk, "name": "place", "choices": "north\nsouth"},
    )
    assert names(project) == {"place": ("choice", ["north", "south"])}
    page = client.get(url(project)).content.decode()
    assert 'data-name="place"' in page
    assert client.post(url(project), {"action": "remove", "field": site.pk}).status_code == 302
    assert names(project) == {}


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"action": "add", "name": "Site", "kind": "text"}, "is no field name"),
        ({"action": "add", "name": "camera", "kind": "text"}, "built-in field"),
        ({"action": "add", "name": "mood", "kind": "choice", "choices": ""}, "at least one choice"),
        ({"action": "add", "name": "age", "kind": "text"}, "has a field named"),
        ({"action": "add", "name": "mood", "kind": "colour"}, "Select a valid choice"),
    ],
)
def test_a_refused_form_is_a_400_saying_why(client, lead, project, form, words):
    field_create(project=project, name="age", kind="number")
    client.force_login(lead)
    response = client.post(url(project), form)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert names(project) == {"age": ("number", [])}


def test_a_choice_an_image_holds_is_kept_with_the_reason(client, lead, project, make_images):
    field = field_create(project=project, name="site", kind="choice", choices=["north", "south"])
    image = make_images(project, 1)[0]
    image_describe(
        image=image,
        description=description_read({"fields": {"site": "north"}}, fields=project_fields(project)),
    )
    client.force_login(lead)
    response = client.post(
        url(project), {"action": "change", "field": field.pk, "name": "site", "choices": "south"}
    )
    assert response.status_code == 400
    assert "is the value of 1 image" in response.content.decode()
    assert names(project) == {"site": ("choice", ["north", "south"])}


def test_a_choice_holding_a_comma_is_kept_whole_when_the_field_is_saved(client, lead, project):
    """A choice set over REST may hold a comma; the page shows the choices one a line, and
    saving them back (a rename, a new line) kept splitting it in two."""
    field = field_create(project=project, name="ward", kind="choice", choices=["A, north"])
    client.force_login(lead)
    page = client.get(url(project)).content.decode()
    shown = page[page.index(f'id="choices-{field.pk}"') :].split(">", 1)[1].split("</textarea")[0]
    assert shown == "A, north"
    form = {"action": "change", "field": field.pk, "name": "unit", "choices": f"{shown}\nB, C"}
    assert client.post(url(project), form).status_code == 302
    assert names(project) == {"unit": ("choice", ["A, north", "B", "C"])}


def test_only_leads_and_admins_open_the_fields_page(client, reviewer, project):
    client.force_login(reviewer)
    assert client.get(url(project)).status_code == 403
