"""Request bodies are read as the schema documents them: text is text, empty is not absent."""

from __future__ import annotations

import pytest

from labeler.projects.models import Project
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": 7}, "name", "Must be text (a JSON string), not a number."),
        ({"name": ["Pets"]}, "name", "Must be text (a JSON string), not a list."),
        ({"name": {"en": "Pets"}}, "name", "Must be text (a JSON string), not an object."),
        ({"name": "P", "instructions": False}, "instructions", "Must be text (a JSON string), "
         "not true or false."),
        ({"name": " " * 5 + "x" * 200}, "name", "At most 200 characters, not 205."),
    ],
)  # fmt: skip
def test_a_project_whose_text_is_not_text_or_too_long_is_refused(
    api_as, admin_user, body, field, message
):
    """DRF's CharField took 7 for "7", and measured the name after trimming its spaces."""
    response = api_as(admin_user).post("/api/v1/projects/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {field: [message]}
    assert not Project.objects.exists()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("multi_label", "Empty: give a value, or leave the field out."),
        ("overlap", "Empty: give a value, or leave the field out."),
        (
            "consensus_method",
            "Empty: choose one of majority, dawid_skene, or leave the field out.",
        ),
    ],
)
def test_a_project_field_sent_empty_in_a_form_is_refused(api_as, admin_user, field, message):
    """DRF took an empty form value as left out: the project got the default instead."""
    form = {"name": "Pets", "labels": '["cat", "dog"]', field: ""}
    response = api_as(admin_user).post("/api/v1/projects/", form, format="multipart")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {field: [message]}


def test_an_empty_form_value_is_taken_where_blank_is_allowed(api_as, admin_user):
    form = {"name": "Pets", "labels": '["cat", "dog"]', "instructions": ""}
    response = api_as(admin_user).post("/api/v1/projects/", form, format="multipart")
    assert response.status_code == 201, response.content
    assert Project.objects.get().instructions == ""


def test_a_skip_whose_reason_is_a_number_is_refused(api_as, annotator, project, make_images):
    image = make_images(project, 1)[0]
    response = api_as(annotator).post(
        f"/api/v1/projects/{project.pk}/skips/", {"image": image.pk, "reason": 1}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"reason": ["Must be text (a JSON string), not a number."]}


def test_a_member_added_with_an_empty_role_in_a_form_is_refused(api_as, lead, project):
    newcomer = UserFactory(username="newcomer")
    response = api_as(lead).post(
        f"/api/v1/projects/{project.pk}/members/",
        {"user": newcomer.pk, "role": ""},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "role": ["Empty: choose one of lead, reviewer, annotator, or leave the field out."]
    }
    assert not project.memberships.filter(user=newcomer).exists()
