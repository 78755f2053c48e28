"""Query filters: a value a filter cannot read is a 400 naming the filter and the value."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import ProjectFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


@pytest.mark.parametrize("value", ["%d", "%", "100%", "%(value)s", "%s%s"])
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("projects/{project}/images/", "is_complete"),
        ("projects/", "multi_label"),
        ("users/", "is_staff"),
    ],
)
def test_a_boolean_filter_given_text_with_a_percent_sign_is_a_400(
    api_as, admin_user, project, path, field, value
):
    """The value was formatted into the message as if it were a template (a 500)."""
    url = "/api/v1/" + path.format(project=project.pk)
    response = api_as(admin_user).get(url, {field: value})
    assert response.status_code == 400, response.content
    assert response.json()["errors"][field] == [f"{value!r} is neither true nor false."]


@pytest.mark.parametrize(("value", "expected"), [("true", ["Tags"]), ("0", ["Pets"])])
def test_a_boolean_filter_still_reads_true_and_false(api_as, admin_user, project, value, expected):
    ProjectFactory(name="Tags", multi_label=True)
    response = api_as(admin_user).get("/api/v1/projects/", {"multi_label": value})
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == expected


DATETIME_FILTERS = [
    ("images/", "created_at__gte"),
    ("annotations/", "updated_at__lte"),
    ("label-history/", "since"),
    ("label-history/", "until"),
]


@pytest.mark.parametrize(("path", "field"), DATETIME_FILTERS)
@pytest.mark.parametrize("offset", ["-16:09", "+23:59"])
def test_a_time_filter_with_an_offset_postgresql_does_not_take_is_read_in_utc(
    api_as, lead, project, path, field, offset
):
    """Valid ISO offsets beyond PostgreSQL's 15:59 were a 500 there."""
    url = f"/api/v1/projects/{project.pk}/{path}"
    response = api_as(lead).get(url, {field: f"2026-01-01T00:00{offset}"})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("path", "field"), DATETIME_FILTERS)
@pytest.mark.parametrize("value", ["9999-12-31T23:59-15:00", "0001-01-01T00:00+15:00"])
def test_a_time_filter_with_no_utc_equivalent_is_a_400(api_as, lead, project, path, field, value):
    """Beyond year 9999 or before year 1 once in UTC (an OverflowError on SQLite), and
    outside the years a date may have."""
    url = f"/api/v1/projects/{project.pk}/{path}"
    response = api_as(lead).get(url, {field: value})
    assert response.status_code == 400, response.content
    message = (
        f"{value} is out of range: give a date from 1000-01-01 to 9998-12-31 "
        "(years 1000 to 9998, in UTC)."
    )
    [given] = response.json()["errors"][field]  # the images' filters name the field first
    assert given in (message, f"{field}: {message}")


@pytest.mark.parametrize("offset", [-dt.timedelta(hours=16, minutes=9), dt.timedelta(hours=23)])
def test_a_time_filter_compares_the_same_moment_in_any_offset(
    api_as, lead, project, make_images, offset
):
    image = make_images(project, 1)[0]
    moment = image.created_at.astimezone(dt.timezone(offset))
    url = f"/api/v1/projects/{project.pk}/images/"
    for query in ({"created_at__gte": moment}, {"created_at__lte": moment}):
        assert [item["id"] for item in api_as(lead).get(url, query).json()["results"]] == [image.pk]
    later = {"created_at__gte": moment + dt.timedelta(microseconds=1)}
    assert api_as(lead).get(url, later).json()["results"] == []
