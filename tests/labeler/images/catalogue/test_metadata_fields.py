"""A project's own fields: declared, renamed and removed by the rules of
``labeler.images.catalogue.metadata_fields``; images' metadata changed through the one reader
(``descriptions``) and writer (``catalogue``), whole or not at all; read back through the
selectors every other part (the slices, the exports) groups images by."""

from __future__ import annotations

import datetime as dt

import pytest

from labeler.errors import Conflict, NotFound, ValidationFailed
from labeler.images.catalogue.descriptions import description_of_record, description_read
from labeler.images.catalogue.metadata_fields import (
    FIELDS_PER_PROJECT,
    field_create,
    field_delete,
    field_update,
)
from labeler.images.catalogue.selectors import image_field_values, metadata_fields, project_fields
from labeler.images.catalogue.services import image_describe, images_describe, images_describe_each
from labeler.images.models import FieldValue, Image, ImageTag
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(project):
    field_create(project=project, name="site", kind="choice", choices=["north", "south"])
    field_create(project=project, name="age", kind="number")
    field_create(project=project, name="visit", kind="date")
    field_create(project=project, name="note", kind="text")
    return project_fields(project)


def stored(project) -> list[tuple]:
    """Everything a change may write, to compare before and after a refusal."""
    images = Image.objects.filter(project=project).order_by("pk")
    return [
        *images.values_list("pk", "captured_at", "origin", "camera", "licence", "gps_latitude"),
        *ImageTag.objects.order_by("pk").values_list("image_id", "name"),
        *FieldValue.objects.order_by("pk").values_list("image_id", "field_id", "text", "number"),
    ]


def test_fields_are_declared_with_a_name_kind_and_choices(project, fields):
    assert {name: (f.kind, f.choices) for name, f in fields.items()} == {
        "age": ("number", []),
        "note": ("text", []),
        "site": ("choice", ["north", "south"]),
        "visit": ("date", []),
    }


@pytest.mark.parametrize(
    ("name", "kind", "choices", "words"),
    [
        ("Site", "text", None, "is no field name"),
        ("9lives", "text", None, "is no field name"),
        ("a-b", "text", None, "is no field name"),
        ("x" * 41, "text", None, "is no field name"),
        ("captured_at", "date", None, "built-in field"),
        ("label", "text", None, "built-in field or an import column"),
        ("site", "colour", None, "kind must be one of text, number, date, choice"),
        ("site", "choice", None, "must be a list of texts"),
        ("site", "choice", [], "at least one choice"),
        ("site", "text", ["a"], "Only a choice field has choices"),
    ],
)
def test_a_bad_declaration_is_refused_saying_why(project, name, kind, choices, words):
    with pytest.raises(ValidationFailed, match=words):
        field_create(project=project, name=name, kind=kind, choices=choices)
    assert not project_fields(project)


def test_a_name_is_one_fields_per_project_and_a_project_has_a_bounded_number(project, fields):
    with pytest.raises(Conflict, match="has a field named 'site' already"):
        field_create(project=project, name="site", kind="text")
    other = ProjectFactory(name="Other")
    field_create(project=other, name="site", kind="text")  # another project's own
    for n in range(FIELDS_PER_PROJECT - len(fields)):
        field_create(project=project, name=f"f{n}", kind="text")
    with pytest.raises(ValidationFailed, match=f"at most {FIELDS_PER_PROJECT} fields"):
        field_create(project=project, name="one_more", kind="text")


def test_a_field_is_renamed_and_a_choice_no_image_holds_taken_away(project, fields, make_images):
    image = make_images(project, 1)[0]
    image_describe(
        image=image, description=description_read({"fields": {"site": "north"}}, fields=fields)
    )
    site = field_update(field=fields["site"], name="place", choices=["north", "east"])
    assert (site.name, site.choices) == ("place", ["north", "east"])
    with pytest.raises(ValidationFailed, match="'north' is the value of 1 image"):
        field_update(field=site, choices=["east"])
    with pytest.raises(Conflict):
        field_update(field=site, name="age")
    with pytest.raises(ValidationFailed, match="has no choices"):
        field_update(field=fields["age"], choices=["a"])
    assert image_field_values(project, "field:place") == {image.pk: "north"}


def test_removing_a_field_removes_its_values(project, fields, make_images):
    images = make_images(project, 3)
    ids = [image.pk for image in images]
    images_describe(
        project=project,
        image_ids=ids,
        description=description_read({"fields": {"age": 3}}, fields=fields),
    )
    assert field_delete(field=fields["age"]) == 3
    assert not FieldValue.objects.exists() and "age" not in project_fields(project)


def test_a_change_read_before_its_field_went_or_its_choice_was_taken_away_is_refused(
    project, fields, make_images
):
    """A change checked against the fields as they were, then written after another
    request removed one (or a choice it gives): a 409 naming the field, nothing written
    (the foreign key was once a 500 at commit)."""
    (image,) = make_images(project, 1)
    removed = description_read({"origin": "scan", "fields": {"age": 3}}, fields=fields)
    taken = description_read({"origin": "scan", "fields": {"site": "south"}}, fields=fields)
    # As other requests do it: with the fields as they read them.
    field_delete(field=project.metadata_fields.get(name="age"))
    field_update(field=project.metadata_fields.get(name="site"), choices=["north"])
    before = stored(project)
    for description, words in ((removed, "removed meanwhile"), (taken, "taken away")):
        with pytest.raises(Conflict, match=words):
            images_describe(project=project, image_ids=[image.pk], description=description)
        with pytest.raises(Conflict, match=words):
            images_describe_each(project=project, changes=[(image.pk, description)])
    assert stored(project) == before


def test_one_image_is_described_whole(project, fields, make_images):
    image = make_images(project, 1)[0]
    body = {
        "captured_at": "2024-05-01T10:00:00+02:00",
        "gps": {"latitude": 48.85, "longitude": 2.35},
        "origin": " Kaggle: plant seedlings ",
        "camera": "Nikon D850",
        "licence": "CC-BY-4.0",
        "tags": ["night", "night", "batch 7"],
        "fields": {"site": "south", "age": "41", "visit": "2024-04-30", "note": "blurred"},
    }
    image_describe(image=image, description=description_read(body, fields=fields))

    image.refresh_from_db()
    assert image.captured_at == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
    assert (image.gps_latitude, image.gps_longitude) == (48.85, 2.35)
    assert (image.origin, image.camera, image.licence) == (
        "Kaggle: plant seedlings",
        "Nikon D850",
        "CC-BY-4.0",
    )
    assert sorted(image.tags.values_list("name", flat=True)) == ["batch 7", "night"]
    assert image_field_values(project, "field:site") == {image.pk: "south"}
    assert image_field_values(project, "field:age") == {image.pk: 41.0}
    assert image_field_values(project, "field:visit") == {image.pk: dt.date(2024, 4, 30)}
    # Null clears: the position and a field.
    cleared = {"gps": None, "fields": {"site": None}, "captured_at": None}
    image_describe(image=image, description=description_read(cleared, fields=fields))
    image.refresh_from_db()
    assert (image.gps_latitude, image.captured_at) == (None, None)
    assert image_field_values(project, "field:site") == {}
    assert image_field_values(project, "field:note") == {image.pk: "blurred"}  # not named: kept


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": {"colour": "red"}}, "fields.colour"),
        ({"fields": {"age": "old"}}, "fields.age"),
        ({"fields": {"site": "west"}}, "fields.site"),
        ({"fields": ["site"]}, "fields"),
        ({"gps": {"latitude": 10}}, "gps.longitude"),
        ({"gps": {"latitude": 10, "longitude": 2, "altitude": 3}}, "gps.altitude"),
        ({"gps": "48.8,2.3"}, "gps"),
        ({"captured_at": "soon"}, "captured_at"),
        ({"origin": 5}, "origin"),
        ({"width": 3}, "width"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(project, fields, body, field):
    with pytest.raises(ValidationFailed) as refused:
        description_read(body, fields=fields, at="items[1].")
    assert refused.value.field == f"items[1].{field}"


def test_many_images_each_get_their_own_change_or_none_does(project, fields, make_images):
    images = make_images(project, 3)
    changes = [
        (images[0].pk, description_read({"fields": {"age": 1}, "tags": ["a"]}, fields=fields)),
        (images[1].pk, description_read({"fields": {"age": 2}, "origin": "x"}, fields=fields)),
    ]
    assert images_describe_each(project=project, changes=changes) == 2
    assert image_field_values(project, "field:age") == {images[0].pk: 1.0, images[1].pk: 2.0}
    assert image_field_values(project, "origin") == {images[1].pk: "x"}
    before = stored(project)
    twice = [*changes, (images[0].pk, description_read({"origin": "y"}, fields=fields))]
    with pytest.raises(ValidationFailed, match="changed twice") as refused:
        images_describe_each(project=project, changes=twice)
    assert refused.value.field == "items[2].image"
    foreign = [*changes, (99_999, description_read({"origin": "y"}, fields=fields))]
    with pytest.raises(ValidationFailed, match="Not images of this project: 99999"):
        images_describe_each(project=project, changes=foreign)
    assert stored(project) == before


def test_an_imports_record_is_read_with_its_columns_and_field_names(project, fields):
    description = description_of_record(
        {"captured_at": "2024-01-02", "latitude": "1.5", "longitude": "2", "tags": "a;b|c"},
        {"site": "north"},
        {"age": "7", "unrelated": "kept out"},
        fields=fields,
        where="line 3 (a.jpg)",
    )
    assert description.columns == {
        "captured_at": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        "gps_latitude": 1.5,
        "gps_longitude": 2.0,
    }
    assert description.tags == ["a", "b", "c"]
    assert {f.name: value for f, value in description.fields.values()} == {
        "site": "north",
        "age": 7.0,
    }
    unpositioned = description_of_record(
        {"latitude": 1, "longitude": 2}, {}, {}, fields=fields, where="", positions=False
    )
    assert not unpositioned
    with pytest.raises(ValidationFailed, match=r"line 3 \(a.jpg\): field:colour: the project"):
        description_of_record({}, {"colour": "red"}, {}, fields=fields, where="line 3 (a.jpg)")


def test_the_selectors_list_every_field_and_give_each_ones_values(project, fields, make_images):
    first, second = make_images(project, 2)
    image_describe(
        image=first,
        description=description_read(
            {
                "captured_at": "2024-01-01T00:00:00Z",
                "gps": {"latitude": 1, "longitude": 2},
                "camera": "Canon",
                "tags": ["b", "a"],
                "fields": {"site": "north"},
            },
            fields=fields,
        ),
    )
    Image.objects.filter(pk=second.pk).update(source="import")

    listed = {info.key: info.kind for info in metadata_fields(project)}
    assert listed == {
        "captured_at": "datetime",
        "origin": "text",
        "camera": "text",
        "licence": "text",
        "tags": "tags",
        "source": "choice",
        "position": "position",
        "field:age": "number",
        "field:note": "text",
        "field:site": "choice",
        "field:visit": "date",
    }
    assert image_field_values(project, "camera") == {first.pk: "Canon"}
    assert image_field_values(project, "tags") == {first.pk: ("a", "b")}
    assert image_field_values(project, "position") == {first.pk: (1.0, 2.0)}
    assert image_field_values(project, "source") == {first.pk: "upload", second.pk: "import"}
    assert image_field_values(project, "captured_at") == {
        first.pk: dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    }
    site = next(info for info in metadata_fields(project) if info.key == "field:site")
    assert site.choices == ("north", "south")
    assert image_field_values(project, site) == {first.pk: "north"}
    with pytest.raises(NotFound):
        image_field_values(project, "field:colour")
    with pytest.raises(NotFound):
        image_field_values(project, "width")
