"""The data browser's filters, sorts and pages on GET /api/v1/projects/{id}/images/."""

from __future__ import annotations

import base64
import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabelMethod
from labeler.browse.filters import FILTERS
from labeler.images.models import Image
from tests.factories import annotation_submit

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/images/"


@pytest.fixture
def images(project, lead, annotator, annotator2, make_images):
    """Five images: the second and third labelled by both annotators, the fourth gold."""
    made = make_images(project, 5)
    for image in made[1:3]:
        for user in (annotator, annotator2):
            annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    image_decide(
        project=project, image_id=made[3].pk, labels=["dog"], decided_by=lead,
        method=FinalLabelMethod.GOLD,
    )  # fmt: skip
    return made


def ids(body) -> list[int]:
    return [row["id"] for row in body["results"]]


@pytest.mark.django_db
def test_filters_combine_and_the_old_ones_still_work(api_as, project, lead, images):
    client = api_as(lead)
    complete = client.get(url(project), {"status": "complete"})
    assert complete.status_code == 200, complete.json()
    assert ids(complete.json()) == [images[1].pk, images[2].pk]
    both = client.get(url(project), {"status": ["complete", "gold"], "agreement": "unanimous"})
    assert ids(both.json()) == [images[1].pk, images[2].pk]
    old = client.get(url(project), {"is_complete": "true"})
    assert ids(old.json()) == [images[1].pk, images[2].pk]
    gold = client.get(url(project), {"final_label": "dog", "is_complete": "false"})
    assert ids(gold.json()) == [images[3].pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"status": "done"}, "status", "unknown value 'done'"),
        ({"final_label": "zebra"}, "final_label", "not a label of this project"),
        ({"labels_min": "many"}, "labels_min", "not a whole number"),
        ({"confidence_max": "1.5"}, "confidence_max", "from 0 to 1"),
        ({"model_disagrees": "maybe"}, "model_disagrees", "neither true nor false"),
        ({"uploaded_after": "31/01/2026"}, "uploaded_after", "not a date"),
        ({"sort": "colour"}, "sort", "unknown order"),
        ({"cursor": "not-a-cursor"}, "cursor", "not a cursor"),
        ({"page_size": "0"}, "page_size", "whole number"),
        ({"labels_min": ["1", "2"]}, "labels_min", "given once"),
    ],
)
def test_a_bad_value_is_a_400_naming_it(api_as, project, lead, images, query, field, says):
    response = api_as(lead).get(url(project), query)
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_keyset_pages_follow_the_sort_both_ways(api_as, project, lead, images):
    client = api_as(lead)
    names = ["e.png", "b.png", "d.png", "a.png", "c.png"]
    for image, name in zip(images, names, strict=True):
        Image.objects.filter(pk=image.pk).update(original_name=name)
    first = client.get(url(project), {"sort": "-name", "page_size": 2}).json()
    assert [row["original_name"] for row in first["results"]] == ["e.png", "d.png"]
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [row["original_name"] for row in second["results"]] == ["c.png", "b.png"]
    third = client.get(second["next"]).json()
    assert [row["original_name"] for row in third["results"]] == ["a.png"]
    assert third["next"] is None
    back = client.get(third["previous"]).json()
    assert [row["original_name"] for row in back["results"]] == ["c.png", "b.png"]
    assert client.get(back["previous"]).json()["results"] == first["results"]


@pytest.mark.django_db
def test_by_default_pages_are_in_id_order(api_as, project, lead, images):
    body = api_as(lead).get(url(project), {"page_size": 3}).json()
    assert ids(body) == [image.pk for image in images[:3]]
    assert ids(api_as(lead).get(body["next"]).json()) == [image.pk for image in images[3:]]


@pytest.mark.django_db
def test_annotators_may_list_but_not_filter(api_as, project, annotator, images):
    client = api_as(annotator)
    assert client.get(url(project)).status_code == 200
    for query in ({"status": "gold"}, {"sort": "-created_at"}, {"agreement": "tie"}):
        response = client.get(url(project), query)
        assert response.status_code == 403
        assert "label blind" in response.json()["detail"]


@pytest.mark.django_db
def test_reviewers_filter(api_as, project, reviewer, images):
    response = api_as(reviewer).get(url(project), {"status": "gold"})
    assert ids(response.json()) == [images[3].pk]


@pytest.mark.django_db
def test_the_schema_lists_every_filter():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/projects/{project_pk}/images/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert set(FILTERS) | {"sort", "cursor", "page_size", "is_complete"} <= names


def cursor_of(*parts) -> str:
    """A cursor as the list makes them: its parts as JSON in URL-safe base64."""
    raw = json.dumps(list(parts), separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("name", cursor_of(0, "a\u0000b", 1)),  # NUL: PostgreSQL stores no NUL in text
        ("name", cursor_of(0, "a\ud800b", 1)),  # a lone surrogate: no UTF-8 for it
        ("created_at", cursor_of(0, "0001-01-01T00:00:00+14:00", 1)),  # before year 1 in UTC
        ("created_at", cursor_of(0, "9999-12-31T23:59:59-14:00", 1)),  # after year 9999
        ("id", cursor_of(0, 2**70, 1)),  # beyond a 64-bit id
        ("id", cursor_of(0, 1, 2**70)),
        ("priority", cursor_of(0, 1e400, 1)),  # JSON's Infinity
        # Nested past the JSON decoder's recursion limit (a RecursionError).
        ("id", base64.urlsafe_b64encode(b"[" * 2500).decode().rstrip("=")),
    ],
)
def test_a_cursor_that_decodes_to_what_no_column_holds_is_a_400_naming_it(
    api_as, project, lead, images, sort, cursor
):
    """Such cursors were 500s (a NUL or a surrogate in the database, an overflow on SQLite)."""
    response = api_as(lead).get(url(project), {"sort": sort, "cursor": cursor})
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["cursor"]
    page = f"/projects/{project.pk}/images/"
    client = api_as(lead)
    client.force_login(lead)
    assert client.get(page, {"sort": sort, "cursor": cursor}).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"name": "a\ud800b"}, "name"),
        ({"uploaded_after": "0001-01-01T00:00:00+14:00"}, "uploaded_after"),
        ({"uploaded_before": "9999-12-31"}, "uploaded_before"),  # its end: year 10000
        ({"captured_after": "0001-01-01T00:00:00+14:00"}, "captured_after"),
    ],
)
def test_a_filter_value_no_column_holds_is_a_400_in_the_list_and_in_a_selection(
    api_as, project, lead, images, query, field
):
    if "\ud800" not in query.get("name", ""):  # a query string cannot carry a surrogate
        response = api_as(lead).get(url(project), query)
        assert response.status_code == 400, response.content
        assert list(response.json()["errors"]) == [field]
    body = {
        "action": "delete",
        "selection": {"filter": "&".join(f"{key}={value}" for key, value in query.items())},
        "expected_count": 5,
    }
    sent = json.dumps(body)  # escaped: "\ud800", as a client sends it
    response = api_as(lead).post(f"{url(project)}bulk/", sent, content_type="application/json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert list(errors) in ([field], ["selection.filter"])  # the body's parser may come first
    assert Image.objects.count() == 5


@pytest.mark.django_db
def test_the_annotator_filter_tells_no_one_which_usernames_exist(
    api_as, project, lead, images, outsider
):
    """A user of no project of the lead's and a name nobody has get the same answer."""
    answers = []
    for name in (outsider.username, "no-such-user"):
        response = api_as(lead).get(url(project), {"annotator": name})
        assert response.status_code == 400
        answers.append(response.json()["detail"].replace(repr(name), "NAME"))
    assert answers[0] == answers[1]
    assert api_as(lead).get(url(project), {"annotator": "ann1"}).status_code == 200
