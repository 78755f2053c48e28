"""A project's fields over REST (/projects/{id}/fields/), and images' metadata set through
PATCH and the bulk body: every bad value a 4xx naming the field and the image, and nothing
half-written."""

from __future__ import annotations

import pytest

from labeler.images.catalogue.selectors import image_field_values
from labeler.images.models import FieldValue, Image, ImageTag, MetadataField

pytestmark = pytest.mark.django_db


def fields_url(project, suffix: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/fields/{suffix}"


def images_url(project, suffix: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/images/{suffix}"


@pytest.fixture
def declared(api_as, lead, project):
    client = api_as(lead)
    for body in (
        {"name": "site", "kind": "choice", "choices": ["north", "south"]},
        {"name": "age", "kind": "number"},
        {"name": "visit", "kind": "date"},
    ):
        assert client.post(fields_url(project), body, format="json").status_code == 201
    return {field.name: field for field in MetadataField.objects.filter(project=project)}


def stored() -> list[tuple]:
    return [
        *Image.objects.order_by("pk").values_list("pk", "captured_at", "origin", "gps_latitude"),
        *ImageTag.objects.order_by("pk").values_list("image_id", "name"),
        *FieldValue.objects.order_by("pk").values_list("image_id", "field_id", "text", "number"),
    ]


def test_a_lead_declares_lists_renames_and_removes_fields(api_as, lead, project, declared):
    client = api_as(lead)
    listed = client.get(fields_url(project)).json()
    assert [(f["name"], f["kind"], f["choices"], f["images"]) for f in listed] == [
        ("age", "number", [], 0),
        ("site", "choice", ["north", "south"], 0),
        ("visit", "date", [], 0),
    ]
    site = declared["site"]
    changed = client.patch(fields_url(project, f"{site.pk}/"), {"name": "place"}, format="json")
    assert changed.status_code == 200 and changed.json()["name"] == "place"
    assert client.delete(fields_url(project, f"{site.pk}/")).status_code == 204
    assert client.get(fields_url(project, f"{site.pk}/")).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "Site", "kind": "text"}, 400, "name"),
        ({"name": "tags", "kind": "text"}, 400, "name"),
        ({"name": "mood", "kind": "colour"}, 400, "kind"),
        ({"name": "mood", "kind": "choice"}, 400, "choices"),
        ({"name": "mood", "kind": "choice", "choices": ["a", "a"]}, 400, "choices"),
        ({"name": "mood", "kind": "text", "extra": 1}, 400, "extra"),
        ({"name": 5, "kind": "text"}, 400, "name"),
        ({"name": "age", "kind": "text"}, 409, "name"),
    ],
)
def test_a_bad_field_is_a_4xx_naming_what_is_wrong(
    api_as, lead, project, declared, body, status, field
):
    response = api_as(lead).post(fields_url(project), body, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()["errors"]
    assert MetadataField.objects.filter(project=project).count() == 3


def test_annotators_see_no_fields_and_reviewers_change_none(
    api_as, annotator, reviewer, project, declared
):
    assert api_as(annotator).get(fields_url(project)).status_code == 403
    assert api_as(reviewer).get(fields_url(project)).status_code == 200
    response = api_as(reviewer).post(fields_url(project), {"name": "x", "kind": "text"})
    assert response.status_code == 403


def test_a_lead_sets_an_images_metadata_and_reads_it_back(
    api_as, lead, project, declared, make_images
):
    image = make_images(project, 1)[0]
    body = {
        "captured_at": "2024-05-01T10:00:00Z",
        "gps": {"latitude": -33.86, "longitude": 151.21},
        "origin": "https://example.org/set/1",
        "camera": "Nikon D850",
        "fields": {"site": "south", "age": 41, "visit": "2024-04-30"},
    }
    response = api_as(lead).patch(images_url(project, f"{image.pk}/"), body, format="json")

    assert response.status_code == 200, response.content
    item = response.json()
    assert item["captured_at"] == "2024-05-01T10:00:00Z"
    assert item["gps"] == {"latitude": -33.86, "longitude": 151.21}
    assert (item["origin"], item["camera"]) == ("https://example.org/set/1", "Nikon D850")
    assert item["fields"] == {"age": 41.0, "site": "south", "visit": "2024-04-30"}


def test_null_clears_each_value_as_the_image_pages_form_sends_it(
    api_as, lead, project, declared, make_images
):
    """The image page's form sends null for an input left empty (no capture time, no
    position): the rest of its body is saved, and null clears what was set."""
    image = make_images(project, 1)[0]
    url = images_url(project, f"{image.pk}/")
    set_all = {
        "captured_at": "2024-05-01T10:00:00Z",
        "gps": {"latitude": 1.5, "longitude": 2.5},
        "origin": "scan",
        "camera": "Canon",
        "licence": "CC0-1.0",
        "fields": {"age": 30},
    }
    assert api_as(lead).patch(url, set_all, format="json").status_code == 200
    form = {"captured_at": None, "gps": None, "origin": "plot 4", "camera": None}
    response = api_as(lead).patch(url, {**form, "licence": None}, format="json")
    assert response.status_code == 200, response.content
    item = response.json()
    assert (item["captured_at"], item["gps"]) == (None, None)
    assert (item["origin"], item["camera"], item["licence"]) == ("plot 4", "", "")
    assert item["fields"] == {"age": 30.0}  # left out: unchanged
    many = {"images": [image.pk], "captured_at": "2024-01-02", "licence": None}
    answer = api_as(lead).post(images_url(project, "metadata/"), many, format="json")
    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": {"site": "west"}}, "fields.site"),
        ({"fields": {"age": 10**400}}, "fields.age"),  # a JSON integer no float holds
        ({"gps": {"latitude": 10**400, "longitude": 0}}, "gps.latitude"),
        ({"fields": {"colour": "red"}}, "fields.colour"),
        ({"fields": {"age": "old"}, "origin": "x"}, "fields.age"),
        ({"captured_at": "soon", "fields": {"age": 1}}, "captured_at"),
        ({"gps": {"latitude": 91, "longitude": 0}}, "gps.latitude"),
        ({"gps": {"latitude": 9}}, "gps.longitude"),
        ({"origin": "x" * 513}, "origin"),
        ({"camera": ["Canon"]}, "camera"),
    ],
)
def test_a_bad_value_in_patch_is_a_400_naming_it_and_nothing_changes(
    api_as, lead, project, declared, make_images, body, field
):
    image = make_images(project, 1)[0]
    before = stored()
    response = api_as(lead).patch(images_url(project, f"{image.pk}/"), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert stored() == before


def test_the_bulk_body_sets_one_change_on_many_images(api_as, lead, project, declared, make_images):
    images = make_images(project, 3)
    body = {
        "images": [images[0].pk, images[2].pk],
        "origin": "batch 7",
        "fields": {"site": "north"},
        "add_tags": ["checked"],
    }
    response = api_as(lead).post(images_url(project, "metadata/"), body, format="json")
    assert response.status_code == 200 and response.json() == {"updated": 2}
    changed = (images[0].pk, images[2].pk)
    assert image_field_values(project, "field:site") == dict.fromkeys(changed, "north")
    assert image_field_values(project, "origin") == dict.fromkeys(changed, "batch 7")


def test_the_bulk_body_sets_each_image_its_own_change(api_as, lead, project, declared, make_images):
    images = make_images(project, 2)
    items = [
        {"image": images[0].pk, "fields": {"age": 30}, "tags": ["a"]},
        {"image": images[1].pk, "fields": {"age": 40}, "gps": {"latitude": 1, "longitude": 2}},
    ]
    response = api_as(lead).post(images_url(project, "metadata/"), {"items": items}, format="json")
    assert response.status_code == 200, response.content
    assert image_field_values(project, "field:age") == {images[0].pk: 30.0, images[1].pk: 40.0}
    assert image_field_values(project, "position") == {images[1].pk: (1.0, 2.0)}


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        ({"fields": {"age": "old"}}, "items[1].fields.age", "Image {id}: items[1].fields.age"),
        ({"captured_at": 3}, "items[1].captured_at", "Image {id}:"),
        ({"width": 3}, "items[1].width", "cannot be set"),
        ({}, "items[1]", "nothing to set of image {id}"),
    ],
)
def test_one_bad_item_refuses_the_whole_bulk_change(
    api_as, lead, project, declared, make_images, item, field, words
):
    images = make_images(project, 2)
    items = [{"image": images[0].pk, "fields": {"age": 30}}, {"image": images[1].pk, **item}]
    before = stored()
    response = api_as(lead).post(images_url(project, "metadata/"), {"items": items}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert words.format(id=images[1].pk) in response.json()["detail"]
    assert stored() == before


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"image": "one", "origin": "x"}]},
        {"items": [{"image": 999_999, "origin": "x"}]},
        {"items": "all"},
        {"items": [], "origin": "x"},
        {"items": [{"image": 1, "origin": "x"}], "images": [1]},
        {"images": [1], "fields": {"age": None, "site": "west"}},
    ],
)
def test_a_malformed_bulk_body_is_a_400_and_changes_nothing(
    api_as, lead, project, declared, make_images, body
):
    make_images(project, 1)
    before = stored()
    response = api_as(lead).post(images_url(project, "metadata/"), body, format="json")
    assert response.status_code == 400, response.content
    assert stored() == before
