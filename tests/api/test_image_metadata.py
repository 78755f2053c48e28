"""Images' metadata through /api/v1/projects/{id}/images/: read by overseers (positions by
leads and admins only), filtered, and licence and tags set by leads, one image or many.

Every bad value answers a 4xx saying what is wrong, and changes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.models import FieldValue, Image, ImageTag
from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

SYDNEY = {"latitude": -33.8651389, "longitude": 151.21}


def url(project, suffix: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/images/{suffix}"


@pytest.fixture
def images(project, make_images) -> list[Image]:
    """Three images: a located iPhone photo tagged night, a Canon one, a plain import."""
    first, second, third = make_images(project, 3)
    Image.objects.filter(pk=first.pk).update(
        captured_at=dt.datetime(2023, 7, 14, 8, 2, 33, tzinfo=dt.UTC),
        camera="Apple iPhone 12",
        gps_latitude=SYDNEY["latitude"],
        gps_longitude=SYDNEY["longitude"],
        licence="CC-BY-4.0",
    )
    Image.objects.filter(pk=second.pk).update(
        captured_at=dt.datetime(2024, 1, 2, 10, 0, tzinfo=dt.UTC), camera="Canon EOS R6"
    )
    Image.objects.filter(pk=third.pk).update(source="import", source_key="trip/day 1/c.png")
    ImageTag.objects.bulk_create(
        [
            ImageTag(image=first, name="night"),
            ImageTag(image=first, name="batch-7"),
            ImageTag(image=second, name="batch-7"),
        ]
    )
    return [Image.objects.get(pk=image.pk) for image in (first, second, third)]


@pytest.fixture
def reviewer(project):
    user = UserFactory(username="rita")
    add_member(project, user, Role.REVIEWER)
    return user


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


# Reading


def test_a_lead_reads_every_images_metadata_with_its_position(api_as, lead, project, images):
    item = api_as(lead).get(url(project, f"{images[0].pk}/")).json()

    assert item["original_name"] == "img0.png"
    assert item["source"] == "upload" and item["source_key"] == ""
    assert item["captured_at"] == "2023-07-14T08:02:33Z"
    assert item["camera"] == "Apple iPhone 12"
    assert item["gps"] == SYDNEY
    assert item["licence"] == "CC-BY-4.0"
    assert item["tags"] == ["batch-7", "night"]  # in name order
    third = api_as(lead).get(url(project, f"{images[2].pk}/")).json()
    assert (third["source"], third["source_key"], third["gps"]) == (
        "import",
        "trip/day 1/c.png",
        None,
    )
    assert third["captured_at"] is None and third["tags"] == []


def test_a_reviewer_reads_the_metadata_but_not_where_photos_were_taken(
    api_as, reviewer, project, images
):
    listed = api_as(reviewer).get(url(project)).json()["results"]
    assert listed[0]["camera"] == "Apple iPhone 12" and listed[0]["tags"] == ["batch-7", "night"]
    assert [item["gps"] for item in listed] == [None, None, None]


def test_an_annotator_reads_no_metadata(api_as, annotator, project, images):
    item = api_as(annotator).get(url(project, f"{images[0].pk}/")).json()
    assert not {"gps", "camera", "captured_at", "tags", "licence", "source_key"} & set(item)


def test_an_admin_reads_positions_too(api_as, admin_user, project, images):
    assert api_as(admin_user).get(url(project, f"{images[0].pk}/")).json()["gps"] == SYDNEY


# Filtering


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"captured_after": "2024-01-01"}, [1]),
        ({"captured_before": "2024-01-01"}, [0]),
        ({"captured_after": "2023-07-14T08:02:33Z"}, [0, 1]),
        ({"captured_before": "2023-07-14T10:02:33+02:00"}, []),  # before: not at the moment
        ({"camera": "iphone"}, [0]),
        ({"has_gps": "true"}, [0]),
        ({"has_gps": "false"}, [1, 2]),
        ({"source": "import"}, [2]),
        ({"licence": "cc-by-4.0"}, [0]),
        ({"tag": "batch-7"}, [0, 1]),
        ({"tag": ["batch-7", "night"]}, [0]),  # repeated: all of them
        ({"tag": ["night", "day"]}, []),
        ({"tag": "  batch-7 "}, [0, 1]),  # trimmed as tags are when set
    ],
)
def test_the_metadata_filters(api_as, lead, project, images, query, expected):
    assert ids(api_as(lead).get(url(project), query)) == [images[i].pk for i in expected]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"source": "ftp"}, "source", "Unknown source 'ftp'; choose one of upload, import"),
        ({"tag": "a;b"}, "tag", "Tag 'a;b': use letters, digits"),
        ({"tag": "x" * 65}, "tag", "at most 64"),
        ({"tag": [f"t{n}" for n in range(51)]}, "tag", "At most 50 values, not 51."),
        ({"has_gps": "maybe"}, "has_gps", "'maybe' is neither true nor false."),
        ({"captured_after": "last week"}, "captured_after", "is not a date and time"),
        ({"camera": "x" * 129}, "camera", "at most 128 characters"),
        ({"camera": "Canon\x00"}, "camera", "holds the NUL character"),
        ({"tag": ""}, "tag", "tag is empty"),
    ],
)
def test_a_filter_value_that_cannot_be_read_is_a_400_naming_it(
    api_as, lead, project, images, query, field, message
):
    response = api_as(lead).get(url(project), query)
    assert response.status_code == 400, response.content
    assert message in str(response.json()["errors"][field])


@pytest.mark.parametrize("query", [{"tag": "night"}, {"camera": "Canon"}, {"licence": "x"}])
def test_annotators_cannot_filter_by_metadata(api_as, annotator, project, images, query):
    response = api_as(annotator).get(url(project), query)
    assert response.status_code == 403
    assert "filter images by their metadata" in response.json()["detail"]


def test_only_leads_and_admins_filter_by_position(api_as, reviewer, project, images):
    response = api_as(reviewer).get(url(project), {"has_gps": "true"})
    assert response.status_code == 403
    assert "see where photos were taken" in response.json()["detail"]


# Describing one image


def patch(client, project, image, body, **kwargs):
    return client.patch(url(project, f"{image.pk}/"), body, format="json", **kwargs)


def test_a_lead_sets_the_licence_and_replaces_the_tags(api_as, lead, project, images):
    client = api_as(lead)

    response = patch(client, project, images[0], {"tags": [" Site:North ", "night", "night"]})

    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["Site:North", "night"]
    assert response.json()["licence"] == "CC-BY-4.0"  # left out: unchanged
    response = patch(client, project, images[0], {"licence": "  proprietary "})
    assert response.json()["licence"] == "proprietary"
    assert response.json()["tags"] == ["Site:North", "night"]
    response = patch(client, project, images[0], {"licence": "", "tags": []})
    assert (response.json()["licence"], response.json()["tags"]) == ("", [])
    assert ImageTag.objects.filter(image=images[0]).count() == 0


def test_tags_of_any_script_are_taken(api_as, lead, project, images):
    response = patch(api_as(lead), project, images[2], {"tags": ["nuit", "夜", "v1.2", "a/b+c#1"]})
    assert response.status_code == 200
    assert response.json()["tags"] == sorted(["nuit", "夜", "v1.2", "a/b+c#1"])


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"tags": "night"}, "tags", 'tags must be a list of tags, such as ["night"].'),
        ({"tags": [1]}, "tags", "Each tag must be text, not 1."),
        ({"tags": ["  "]}, "tags", "A tag cannot be empty."),
        ({"tags": ["x" * 65]}, "tags", "is 65 characters long; at most 64."),
        ({"tags": [f"t{n}" for n in range(51)]}, "tags", "at most 50 tags, not 51."),
        ({"tags": ["<script>"]}, "tags", "Tag '<script>': use letters, digits, spaces"),
        ({"tags": ["-x"]}, "tags", "starting with a letter or a digit"),
        ({"tags": [{"name": "x"}]}, "tags", "Each tag must be text"),
        ({"licence": 4}, "licence", "Must be text (a JSON string), not a number."),
        ({"licence": "x" * 256}, "licence", "At most 255 characters, not 256."),
        ({"licence": "CC\nBY"}, "licence", "line breaks or control characters"),
        ({"width": 3}, "width", "'width' cannot be set here; the fields are captured_at, gps,"),
    ],
)
def test_a_bad_description_is_a_400_saying_what_is_wrong(
    api_as, lead, project, images, body, field, message
):
    response = patch(api_as(lead), project, images[0], body)

    assert response.status_code == 400, response.content
    assert message in str(response.json()["errors"][field])
    image = Image.objects.get(pk=images[0].pk)
    assert image.licence == "CC-BY-4.0" and image.tags.count() == 2


@pytest.mark.parametrize("body", [{}, [], "tags"])
def test_a_body_that_is_no_object_or_empty_is_a_400(api_as, lead, project, images, body):
    response = patch(api_as(lead), project, images[0], body)
    assert response.status_code == 400
    assert "Send a JSON object with any of captured_at, gps," in response.json()["detail"]


def test_a_form_body_is_refused_for_json(api_as, lead, project, images):
    response = api_as(lead).patch(
        url(project, f"{images[0].pk}/"),
        "licence=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415


@pytest.mark.parametrize("who", ["annotator", "reviewer"])
def test_only_leads_and_admins_describe_images(api_as, project, images, who, request):
    response = patch(api_as(request.getfixturevalue(who)), project, images[0], {"licence": "x"})
    assert response.status_code == 403
    assert Image.objects.get(pk=images[0].pk).licence == "CC-BY-4.0"


def test_an_image_of_another_project_is_a_404(api_as, lead, project, images):
    other = ProjectFactory(name="Other")
    add_member(other, lead, Role.LEAD)
    response = patch(api_as(lead), other, images[0], {"licence": "x"})
    assert response.status_code == 404


# Describing many


def bulk(client, project, body):
    return client.post(url(project, "metadata/"), body, format="json")


def test_a_lead_sets_licence_and_tags_of_many_images_at_once(api_as, lead, project, images):
    body = {
        "images": [images[0].pk, images[2].pk],
        "licence": "CC0-1.0",
        "add_tags": ["checked"],
        "remove_tags": ["night"],
    }
    response = bulk(api_as(lead), project, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"updated": 2}
    tags = {
        image.pk: sorted(image.tags.values_list("name", flat=True))
        for image in Image.objects.filter(project=project)
    }
    assert tags == {
        images[0].pk: ["batch-7", "checked"],
        images[1].pk: ["batch-7"],
        images[2].pk: ["checked"],
    }
    licences = dict(Image.objects.values_list("pk", "licence"))
    assert licences == {images[0].pk: "CC0-1.0", images[1].pk: "", images[2].pk: "CC0-1.0"}


def test_adding_a_tag_twice_is_no_error(api_as, lead, project, images):
    body = {"images": [images[0].pk, images[1].pk], "add_tags": ["batch-7"]}
    assert bulk(api_as(lead), project, body).status_code == 200
    assert ImageTag.objects.filter(name="batch-7").count() == 2


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"images": [999999], "licence": "x"}, "images", "Not images of this project: 999999."),
        ({"images": "all", "licence": "x"}, "images", "images must be a list of image ids."),
        ({"images": [], "licence": "x"}, "images", "images must be a list of image ids."),
        ({"images": [True], "licence": "x"}, "images", "images must be a list of image ids."),
        ({"images": [-4], "licence": "x"}, "images", "images must be a list of image ids."),
        ({"images": [2**70], "licence": "x"}, "images", "Not images of this project"),
        (
            {"images": list(range(1, 1002)), "licence": "x"},
            "images",
            "At most 1000 images per request, not 1001.",
        ),
        ({"images": [0], "add_tags": ["a"], "remove_tags": ["a"]}, "add_tags", "both added"),
        ({"images": [0], "add_tags": "a"}, "add_tags", "add_tags must be a list of tags"),
        ({"images": [0], "remove_tags": ["a!"]}, "remove_tags", "Tag 'a!': use letters"),
        ({"images": [0], "tags": ["a"]}, "tags", "'tags' cannot be set here"),
        ({"licence": "x"}, "images", "Send images (their ids) with what to set of them"),
    ],
)
def test_a_bad_bulk_change_is_a_400_and_changes_nothing(
    api_as, lead, project, images, body, field, message
):
    body = {**body}
    if body.get("images") == [0]:
        body["images"] = [images[0].pk]
    response = bulk(api_as(lead), project, body)

    assert response.status_code == 400, response.content
    assert message in str(response.json()["errors"][field])
    assert dict(Image.objects.values_list("pk", "licence"))[images[0].pk] == "CC-BY-4.0"


def test_a_bulk_change_with_nothing_to_change_is_a_400(api_as, lead, project, images):
    response = bulk(api_as(lead), project, {"images": [images[0].pk]})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Nothing to change: send captured_at, gps,")


def test_a_bulk_change_that_would_crowd_an_image_is_refused_whole(api_as, lead, project, images):
    ImageTag.objects.bulk_create(ImageTag(image=images[1], name=f"t{n}") for n in range(48))
    body = {"images": [images[0].pk, images[1].pk], "add_tags": ["one", "two"]}

    response = bulk(api_as(lead), project, body)

    assert response.status_code == 400
    assert f"Image {images[1].pk} would have more than 50 tags." in response.json()["detail"]
    assert not ImageTag.objects.filter(name__in=["one", "two"]).exists()


@pytest.mark.parametrize("who", ["annotator", "reviewer"])
def test_only_leads_and_admins_change_many_images(api_as, project, images, who, request):
    body = {"images": [images[0].pk], "licence": "x"}
    assert bulk(api_as(request.getfixturevalue(who)), project, body).status_code == 403


# Queries


@pytest.mark.embedded
@pytest.mark.parametrize("count", [3, 30])
def test_the_list_reads_every_images_tags_and_field_values_in_one_query_each(
    api_as, lead, project, make_images, count, django_assert_num_queries
):
    """Tags and field values are prefetched: the count stays the same however many images."""
    site = field_create(project=project, name="site", kind="text")
    for image in make_images(project, count):
        ImageTag.objects.bulk_create([ImageTag(image=image, name=n) for n in ("a", "b")])
        FieldValue.objects.create(field=site, image=image, text="north")
    client = api_as(lead)
    # The token with its user, the project with the caller's role, the page, its tags, its
    # field values; on PostgreSQL, the filter budget's savepoint, time limit, its restoring
    # and release (the test runs in a transaction; a request alone sets the limit only).
    with django_assert_num_queries(5 + (4 if connection.vendor == "postgresql" else 0)):
        response = client.get(url(project), {"page_size": 100, "tag": "a"})
    assert len(response.json()["results"]) == count
    assert {item["fields"]["site"] for item in response.json()["results"]} == {"north"}
