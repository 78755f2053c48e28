"""Request bodies are read as the schema documents them: text is text, empty is not absent,
and text holding NUL or a lone surrogate is refused."""

from __future__ import annotations

import base64
import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeler.agreement.models import ReviewRequest
from labeler.annotations.models import Annotation
from labeler.bulk.models import BulkAction
from labeler.exports.models import Export
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.factories import UserFactory, annotation_submit

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


# Text from outside holding NUL or a lone surrogate: a 400 naming the field, nothing kept.
# JSON bodies are sent as json.dumps writes them (a lone surrogate as its \ud800 escape).

SURROGATE = "\ud800"


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("username", [SURROGATE, "a\x00", f"ann{SURROGATE}1"])
def test_a_token_login_with_unsafe_text_is_a_400_not_a_500(lead, username):
    """The login throttle's cache key encoded the username: UnicodeEncodeError, a 500."""
    response = post_json(
        APIClient(), "/api/v1/auth/token/", {"username": username, "password": "x"}
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["username"]
    assert not Token.objects.exists()


@pytest.fixture
def bulk_images(project, annotator, make_images):
    images = make_images(project, 2)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    return images


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "review", "note": SURROGATE}, "note"),
        ({"action": "review", "note": "look\x00again"}, "note"),
        ({"action": "relabel", "annotators": [SURROGATE]}, "annotators[0]"),
        ({"action": "relabel", "annotators": ["ann1\x00"]}, "annotators[0]"),
        ({"action": "export", "format": "csv", "annotator": SURROGATE}, "annotator"),
    ],
)
def test_a_bulk_action_with_unsafe_text_is_a_400_and_does_nothing(
    api_as, lead, project, bulk_images, params, field
):
    """A bulk note, relabel's annotators and an export's annotator were each a 500."""
    before = snapshot()
    body = {"selection": {"ids": [image.pk for image in bulk_images]}, **params}
    response = post_json(api_as(lead), f"/api/v1/projects/{project.pk}/images/bulk/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [(SURROGATE, "selection.filter"), ("status=\x00", "selection.filter")],
)
def test_a_bulk_filter_with_unsafe_text_is_a_400_and_does_nothing(
    api_as, lead, project, bulk_images, query, field
):
    before = snapshot()
    body = {"action": "priority", "priority": 3, "selection": {"filter": query}}
    response = post_json(api_as(lead), f"/api/v1/projects/{project.pk}/images/bulk/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("query", "field", "what"),
    [
        ("name=a%00b", "filter.name", "holds the NUL character"),
        ("name=%ED%A0%80", "filter.name", "its bytes are not UTF-8"),
        ("status=not_started&tag=%FF", "filter.tag", "its bytes are not UTF-8"),
        ("a%00=1", "the name a\\u0000 in filter", "holds the NUL character"),
    ],
)
def test_a_bulk_filter_with_escaped_unsafe_text_is_a_400_and_does_nothing(
    api_as, lead, project, bulk_images, query, field, what
):
    """The filter string is decoded again inside: its %00 reached the database (a 500), and
    an escaped lone surrogate became U+FFFD (a filter on something else than was sent)."""
    before = snapshot()
    body = {"action": "priority", "priority": 3, "selection": {"filter": query}}
    response = post_json(api_as(lead), f"/api/v1/projects/{project.pk}/images/bulk/", body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert response.json()["detail"].startswith(f"{field}: {what}")
    assert snapshot() == before


def test_an_export_asked_for_an_unsafe_annotator_is_a_400(api_as, lead, project):
    response = post_json(
        api_as(lead), f"/api/v1/projects/{project.pk}/exports/", {"annotator": SURROGATE}
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["annotator"]
    assert not Export.objects.exists()


def snapshot() -> dict[str, list[tuple]]:
    """Every row the bulk actions could touch, as stored."""
    return {
        "images": list(Image.objects.order_by("pk").values_list()),
        "annotations": list(Annotation.objects.order_by("pk").values_list()),
        "bulk": list(BulkAction.objects.order_by("pk").values_list()),
        "exports": list(Export.objects.order_by("pk").values_list()),
        "reviews": list(ReviewRequest.objects.order_by("pk").values_list()),
    }


def cursor_of(*position: object) -> str:
    """A cursor as the data browser writes them (base64 of JSON), holding what is given."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize("key", ["a\x00b", SURROGATE, "img\udc001.png"])
@pytest.mark.parametrize("page", ["/api/v1/projects/{pk}/images/", "/projects/{pk}/images/"])
def test_a_cursor_carrying_unsafe_text_is_a_400(client, lead, project, make_images, key, page):
    """Images page and list: the cursor's decoded key reached the database (a 500)."""
    make_images(project, 3)
    client.force_login(lead)
    response = client.get(
        page.format(pk=project.pk), {"sort": "name", "cursor": cursor_of(0, key, 1)}
    )
    assert response.status_code == 400, response.content
    # The data browser's cursor reader refuses it (labeler.browse.sorts, with text_in's check).
    assert "cursor: not a cursor of this list" in response.content.decode()
