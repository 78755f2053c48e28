"""Query filters: a value a filter cannot read is a 400 naming the filter and the value."""

from __future__ import annotations

import pytest

from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


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
