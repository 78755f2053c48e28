"""The data browser's filters on origin, a box on the map and a project's own fields, each
through the one registry (``images_filtered``) on images that differ by one fact, and one
selection through the bulk count that every bulk action reads."""

from __future__ import annotations

import re

import pytest
from django.http import QueryDict

from labeler.browse.filters import images_filtered
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import images_describe_each
from tests.conftest import client_for

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]

SCENE = {
    # name: origin, position, site, age, visit, note
    "paris": ("Kaggle", (48.85, 2.35), "north", 30, "2024-01-10", "Blurred at the edge"),
    "lyon": ("kaggle", (45.76, 4.84), "south", 41.5, "2024-03-01", "sharp"),
    "fiji": ("site 7", (-17.7, 178.1), "south", 52, "2024-06-30", None),
    "samoa": ("site 7", (-13.8, -172.1), None, None, None, "blurred"),
    "nowhere": ("", None, None, None, None, None),
    "berlin": ("Straße café", None, None, None, None, "Straße café"),
}


@pytest.fixture
def scene(project, make_images):
    field_create(project=project, name="site", kind="choice", choices=["north", "south"])
    field_create(project=project, name="age", kind="number")
    field_create(project=project, name="visit", kind="date")
    field_create(project=project, name="note", kind="text")
    fields = project_fields(project)
    images = dict(zip(SCENE, make_images(project, len(SCENE)), strict=True))
    changes = []
    for name, (origin, position, site, age, visit, note) in SCENE.items():
        body = {
            "origin": origin,
            "gps": dict(zip(("latitude", "longitude"), position, strict=True))
            if position
            else None,
            "fields": {"site": site, "age": age, "visit": visit, "note": note},
        }
        changes.append((images[name].pk, description_read(body, fields=fields)))
    images_describe_each(project=project, changes=changes)
    return images


def found(project, user, query: str, images) -> set[str]:
    by_id = {image.pk: name for name, image in images.items()}
    matched = images_filtered(project, QueryDict(query), user=user)
    return {by_id[pk] for pk in matched.values_list("pk", flat=True)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("origin=KAGGLE", {"paris", "lyon"}),  # any case
        ("origin=site 7&origin=kaggle", {"paris", "lyon", "fiji", "samoa"}),  # any of them
        ("bbox=40,-5,52,10", {"paris", "lyon"}),  # France
        ("bbox=48,2,49,3", {"paris"}),
        ("bbox=-20,170,-10,-170", {"fiji", "samoa"}),  # across the 180th meridian
        ("bbox=-90,-180,90,180", {"paris", "lyon", "fiji", "samoa"}),  # has a position
        ("field=site:north", {"paris"}),
        ("field=site:north&field=site:south", {"paris", "lyon", "fiji"}),  # any of one field's
        ("field=site:south&field=age:52", {"fiji"}),  # every field named
        ("field=age:41.5", {"lyon"}),
        ("field=visit:2024-03-01", {"lyon"}),
        ("field=note:BLURRED", {"samoa"}),  # text: equal in any case
        ("field_min=age:41.5", {"lyon", "fiji"}),  # inclusive
        ("field_max=age:41.5", {"paris", "lyon"}),
        ("field_min=age:31&field_max=age:50", {"lyon"}),
        ("field_min=visit:2024-02-01&field_max=visit:2024-06-30", {"lyon", "fiji"}),
        ("field_min=age:0&field_min=visit:2024-02-01", {"lyon", "fiji"}),  # both fields
        ("field_contains=note:blur", {"paris", "samoa"}),
        ("field_contains=note:ED", {"paris", "samoa"}),  # too short for a trigram
        ("field_contains=site:ort", {"paris"}),  # a choice's text too
        ("field=site:north&origin=kaggle&bbox=40,-5,52,10", {"paris"}),
        # Upper-cased by the database on both sides, as its indexes are: Python's upper()
        # makes "SS" of "ß", which the database's never matched.
        ("origin=straße CAFÉ", {"berlin"}),
        ("field=note:STRAßE CAFÉ", {"berlin"}),
        ("field_contains=note:ß", {"berlin"}),
        ("origin=Straße cafe\u0301", {"berlin"}),  # é typed as e and an accent
        ("field_contains=note:cafe\u0301", {"berlin"}),
    ],
)
def test_each_filter_matches_the_images_it_names(project, lead, scene, query, expected):
    assert found(project, lead, query, scene) == expected


@pytest.mark.parametrize(
    ("query", "name", "words"),
    [
        ("bbox=1,2,3", "bbox", "is not south,west,north,east"),
        ("bbox=50,0,40,10", "bbox", "is north of north"),
        ("bbox=0,0,95,10", "bbox", "north 95 is not between"),
        ("bbox=nan,0,1,1", "bbox", "south nan is not between"),
        ("field=north", "field", "must be a field's name, a colon and a value"),
        ("field=colour:red", "field", "no field named 'colour' (its fields: age, note, site,"),
        ("field=site:west", "field", "'west' is not one of 'north', 'south'"),
        ("field=age:old", "field", "is not a finite number"),
        ("field=visit:2024-02-30", "field", "is not a date"),
        ("field=site:", "field", "give site a value"),
        ("field_min=site:north", "field_min", "site is a choice field; ranges are for number"),
        ("field_min=age:1&field_min=age:2", "field_min", "age is given twice"),
        ("field_max=visit:soon", "field_max", "is not a date"),
        ("field_contains=age:4", "field_contains", "age is a number field"),
        ("field_contains=note:", "field_contains", "give note some text"),
    ],
)
def test_a_malformed_value_is_a_400_naming_the_filter(project, lead, scene, query, name, words):
    with pytest.raises(ValidationFailed, match=re.escape(words)) as refused:
        list(images_filtered(project, QueryDict(query), user=lead))
    assert refused.value.field == name


def test_only_leads_and_admins_filter_by_a_box_on_the_map(project, reviewer, scene):
    with pytest.raises(PermissionDenied, match="bbox"):
        images_filtered(project, QueryDict("bbox=40,-5,52,10"), user=reviewer)
    assert found(project, reviewer, "field=site:north", scene) == {"paris"}


def test_annotators_filter_by_no_field(project, annotator, scene):
    with pytest.raises(PermissionDenied, match="Annotators label blind"):
        images_filtered(project, QueryDict("field=site:north"), user=annotator)


def test_a_bulk_selection_counts_what_the_field_filters_match(project, lead, scene):
    filters = "field_min=age:31&field=site:south&bbox=-90,-180,90,180"
    response = client_for(lead).get(
        f"/api/v1/projects/{project.pk}/images/bulk/", {"filter": filters}
    )
    assert response.json() == {"count": 2}
    response = client_for(lead).get(
        f"/api/v1/projects/{project.pk}/images/bulk/", {"filter": "field=colour:red"}
    )
    assert response.status_code == 400 and "colour" in response.json()["detail"]
