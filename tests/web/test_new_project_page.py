"""The new-project page asks what a new lead needs up front (name, labels, how many people
label each image, the images) and folds everything else away with its defaults, in the
sections the settings registry declares; the settings page uses the same sections."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from labeler.images.models import Image
from labeler.projects.models import Project
from labeler.projects.settings_registry import SECTIONS, project_settings
from labeler.web.forms import page_settings, setting_input
from tests.factories import UserFactory, image_bytes
from tests.rows import row_counts

pytestmark = pytest.mark.django_db

NEW = "/projects/new/"
ESSENTIAL_INPUTS = {
    "name",
    "multi_label",
    "labels-name",
    "labels-group",
    "labels-color",
    "labels-hotkey",
    "overlap",
    "images",
}


class FormInputs(HTMLParser):
    """The project form's inputs: each with the folded section it lies in (None: up front)
    and the value the browser would send as the page stands."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, Any]] = []
        self.open_sections: list[str] = []
        self._details: list[str] = []
        self._in_form = self._in_template = False
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and a.get("id") == "project-form":
            self._in_form = True
        if not self._in_form or self._in_template:
            return
        if tag == "template":
            self._in_template = True
        elif tag == "details":
            section = a["id"].removeprefix("section-")
            self._details.append(section)
            if "open" in a:
                self.open_sections.append(section)
        elif tag in ("input", "select", "textarea") and a.get("name"):
            entry = {"tag": tag, "section": self._details[-1] if self._details else None, **a}
            self.inputs.append(entry)
            if tag == "select":
                self._select = entry
            if tag == "textarea":
                self._textarea, entry["value"] = entry, ""
        elif (
            tag == "option"
            and self._select is not None
            and ("selected" in a or "value" not in self._select)
        ):
            self._select["value"] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._in_template = False
        elif tag == "details" and self._in_form and not self._in_template:
            self._details.pop()
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["value"] += data

    def visible_names(self) -> set[str]:
        return {
            i["name"] for i in self.inputs if i["section"] is None and i.get("type") != "hidden"
        }

    def post(self) -> dict[str, list[str]]:
        """What submitting the page unchanged sends (files aside)."""
        data: dict[str, list[str]] = {}
        for field in self.inputs:
            kind = field.get("type", "")
            if kind == "file" or (kind in ("checkbox", "radio") and "checked" not in field):
                continue
            value = "on" if kind == "checkbox" and "value" not in field else field.get("value", "")
            data.setdefault(field["name"], []).append(value)
        return data


def inputs_of(html: str) -> FormInputs:
    parser = FormInputs()
    parser.feed(html)
    return parser


@pytest.fixture
def maker(db: Any) -> Client:
    user = UserFactory(username="maker")
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = Client()
    client.force_login(user)
    return client


def essentials(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Birds",
        "multi_label": "0",
        "overlap": "2",
        "labels-id": ["", ""],
        "labels-name": ["robin", "wren"],
        "labels-color": ["#ff0000", "#00ff00"],
        "labels-hotkey": ["r", "w"],
    }
    data.update(overrides)
    return data


def png(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(seed=seed), content_type="image/png")


def stored_settings(project: Project) -> dict[str, Any]:
    return {s.name: getattr(project, s.name) for s in project_settings()}


# ---- what the page asks up front ----


def test_the_visible_fields_are_exactly_the_essentials(maker):
    page = maker.get(NEW).content.decode()
    assert inputs_of(page).visible_names() == ESSENTIAL_INPUTS


def test_the_page_asks_two_people_an_image_and_says_why(maker):
    """The page's default is 2; the sentence beside it says what 1 and 2 or more mean."""
    page = maker.get(NEW).content.decode()
    overlap = next(i for i in inputs_of(page).inputs if i["name"] == "overlap")
    assert overlap["value"] == "2"
    assert "With 1, each image is labelled once" in page
    assert "With 2 or more, their agreement is measured" in page


def test_the_name_is_focused_and_every_input_has_a_label(maker):
    page = maker.get(NEW).content.decode()
    parsed = inputs_of(page)
    name = next(i for i in parsed.inputs if i["name"] == "name")
    assert "autofocus" in name
    for field in parsed.inputs:
        if field.get("type") in ("hidden", "checkbox", "radio") or not field.get("id"):
            continue  # boxes sit inside their <label>; label rows have wrapping labels
        assert f'for="{field["id"]}"' in page, field["name"]


@pytest.mark.parametrize("path", ["new", "edit"])
def test_each_setting_is_asked_in_the_section_it_declares(maker, project, lead, path):
    """The page's folds are the registry's sections, in its order, each with its sentence,
    and every setting's input lies in its own section (or up front, for the essentials)."""
    if path == "new":
        page = maker.get(NEW).content.decode()
    else:
        client = Client()
        client.force_login(lead)
        page = client.get(reverse("project-edit", args=[project.pk])).content.decode()
    parsed = inputs_of(page)
    where = {i["name"]: i["section"] for i in parsed.inputs}
    for setting in page_settings():
        expected = None if setting.section == "essentials" else setting.section
        assert where[setting_input(setting)] == expected, setting.name
    folded = [s for s in SECTIONS if s.folded]
    assert [page.index(f'id="section-{s.key}"') for s in folded] == sorted(
        page.index(f'id="section-{s.key}"') for s in folded
    )
    for section in folded:
        assert section.purpose.replace("'", "&#x27;") in page
    assert parsed.open_sections == []
    assert ("images" in where) == (path == "new")


# ---- defaults ----


def test_a_project_made_with_only_the_essentials_gets_every_other_default(maker):
    response = maker.post(NEW, essentials())
    assert response.status_code == 302
    project = Project.objects.get()
    expected = {s.name: s.default for s in project_settings()} | {"overlap": 2}
    assert stored_settings(project) == expected
    assert (project.instructions, project.multi_label) == ("", False)


def test_the_page_submitted_as_shown_stores_the_defaults_too(maker):
    """The folded inputs carry the defaults: submitting them unchanged changes nothing."""
    data = inputs_of(maker.get(NEW).content.decode()).post()
    data.update({"name": ["Birds"], "labels-name": ["robin", "wren"]})
    response = maker.post(NEW, data)
    assert response.status_code == 302
    project = Project.objects.get()
    expected = {s.name: s.default for s in project_settings()} | {"overlap": 2}
    assert stored_settings(project) == expected


# ---- the images chosen with the form ----


def test_images_chosen_on_the_form_are_stored_with_the_project(maker):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("more/c.png", image_bytes(seed=3))
    data = essentials(
        images=[
            png("a.png", 1),
            png("b.png", 2),
            SimpleUploadedFile("more.zip", archive.getvalue(), content_type="application/zip"),
        ]
    )
    response = maker.post(NEW, data, follow=True)
    project = Project.objects.get()
    assert response.redirect_chain == [(f"/projects/{project.pk}/", 302)]
    assert Image.objects.filter(project=project).count() == 3
    assert "Project “Birds” created with 3 images." in response.content.decode()


def test_a_project_without_images_says_where_to_add_them(maker):
    page = maker.post(NEW, essentials(), follow=True).content.decode()
    assert "Next, add its images from the Upload page." in page


def test_a_bad_file_is_listed_and_the_good_ones_stored(maker):
    """A file that is no image does not stop the project nor the other images: the project
    page names it and says why, as the upload page would."""
    data = essentials(images=[png("a.png", 1), SimpleUploadedFile("notes.txt", b"not an image")])
    response = maker.post(NEW, data, follow=True)
    page = response.content.decode()
    project = Project.objects.get()
    assert Image.objects.filter(project=project).count() == 1
    assert "created with 1 image." in page
    assert "1 file was not added: notes.txt (" in page


def test_a_refused_form_creates_nothing_and_asks_for_the_files_again(maker):
    before = row_counts()
    response = maker.post(NEW, essentials(name="", images=[png("a.png", 1)]))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="name-error"' in page
    assert "The project was not created, so the images were not kept" in page
    assert row_counts() == before


def test_too_many_files_are_refused_before_anything_is_stored(maker, settings):
    settings.LABELER_MAX_FILES_PER_REQUEST = 2
    before = row_counts()
    files = [png(f"{n}.png", n) for n in range(3)]
    response = maker.post(NEW, essentials(images=files))
    assert response.status_code == 400
    page = response.content.decode()
    error = page[
        page.index('id="images-error"') : page.index("</p>", page.index('id="images-error"'))
    ]
    assert "3 files chosen; at most 2 go with the form." in error
    assert row_counts() == before


# ---- errors in folded sections ----


def test_an_error_in_a_folded_section_opens_it_beside_its_field(maker):
    data = inputs_of(maker.get(NEW).content.decode()).post()
    data.update({"name": ["Birds"], "labels-name": ["robin", "wren"], "pass_percent": ["120"]})
    response = maker.post(NEW, data)
    assert response.status_code == 400
    parsed = inputs_of(response.content.decode())
    assert parsed.open_sections == ["gold"]
    page = response.content.decode()
    section = page[
        page.index('id="section-gold"') : page.index("</details>", page.index('id="section-gold"'))
    ]
    assert 'id="pass-error"' in section
    assert "The pass mark is a percentage from 0 to 100." in section
    assert not Project.objects.exists()


def test_a_service_error_on_the_settings_page_opens_its_section(project, lead):
    """An error only the service finds (adaptive maximum below the overlap) opens the
    section of the input it names; sections without errors stay folded."""
    client = Client()
    client.force_login(lead)
    url = reverse("project-edit", args=[project.pk])
    data = inputs_of(client.get(url).content.decode()).post()
    data.update({"overlap": ["4"], "overlap_mode": ["adaptive"], "overlap_max": ["3"]})
    response = client.post(url, data)
    assert response.status_code == 400
    assert inputs_of(response.content.decode()).open_sections == ["overlap"]
    assert 'id="overlap-max-error"' in response.content.decode()
