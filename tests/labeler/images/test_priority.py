"""A priority is read one way on every route that sets one: the bulk action the Images
page and the API share, and the admin's image form. An empty field or a word is a 400
that says so, never 0, and nothing changes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from labeler.errors import ValidationFailed
from labeler.images.models import STORED_FILE_FIELDS, Image
from labeler.images.priority import priority_parse
from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[3]

REFUSED = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("high", "must be a number"),
    ("five", "must be a number"),
    ("inf", "must be a number"),
    ("nan", "must be a number"),
    ("0x10", "must be a number"),
    ("1_000", "must be a number"),
    ("1e999", "too large"),
    (10**400, "too large"),
    (True, "is a number"),
    ([5], "is a number"),
    (None, "is required"),
]


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (5, 5.0),
        (-2, -2.0),
        (0.75, 0.75),
        ("5", 5.0),
        (" -0.5 ", -0.5),
        ("1e3", 1000.0),
        (".5", 0.5),
    ],
)
def test_numbers_and_text_holding_one_are_read(value: object, number: float) -> None:
    assert priority_parse(value) == number


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_what_is_not_a_number_is_refused_saying_why(value: object, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as refused:
        priority_parse(value)
    assert refused.value.field == "priority"


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_the_bulk_action_refuses_it_and_changes_nothing(
    project, lead, make_images, value: object, message: str
) -> None:
    """What the Images page sends (the field as typed) and what a client sends."""
    images = make_images(project, 2)
    Image.objects.filter(pk=images[0].pk).update(priority=3)
    answer = client_for(lead).post(
        f"/api/v1/projects/{project.pk}/images/bulk/",
        {"action": "priority", "selection": {"ids": [i.pk for i in images]}, "priority": value},
        format="json",
    )
    assert answer.status_code == 400, answer.content
    assert message in answer.json()["detail"] or message in str(answer.json())
    assert sorted(Image.objects.values_list("priority", flat=True)) == [0.0, 3.0]


@pytest.mark.django_db
def test_the_bulk_action_takes_the_field_as_typed(project, lead, make_images) -> None:
    images = make_images(project, 2)
    answer = client_for(lead).post(
        f"/api/v1/projects/{project.pk}/images/bulk/",
        {"action": "priority", "selection": {"ids": [i.pk for i in images]}, "priority": " 2.5"},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["params"] == {"priority": 2.5}
    assert set(Image.objects.values_list("priority", flat=True)) == {2.5}


@pytest.mark.django_db
@pytest.mark.parametrize(("typed", "message"), [("", "is empty"), ("soon", "must be a number")])
def test_the_admin_form_refuses_it_and_changes_nothing(
    admin_user, project, make_images, typed: str, message: str
) -> None:
    [image] = make_images(project, 1)
    Image.objects.filter(pk=image.pk).update(priority=3)
    image.refresh_from_db()
    browser = Client()
    browser.force_login(admin_user)
    url = f"/admin/images/image/{image.pk}/change/"
    files = STORED_FILE_FIELDS
    data = {k: "" if v is None else v for k, v in model_to_dict(image).items() if k not in files}
    data["priority"] = typed
    answer = browser.post(url, data)
    assert answer.status_code == 200  # the form again, with its error
    assert message in answer.content.decode()
    image.refresh_from_db()
    assert image.priority == 3.0
    data["priority"] = "7"
    assert browser.post(url, data).status_code == 302
    image.refresh_from_db()
    assert image.priority == 7.0


def test_no_other_code_sets_a_priority_it_was_sent() -> None:
    """Only the queue's own writers (withdrawing labels, the model's uncertainty order) and
    the bulk action and the admin set ``priority``, through the queue state's one writer
    (``labeler.images.queue_state``); a new route that does must read it with
    ``priority_parse``."""
    writers = set()
    for folder in ("labeler", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg == "priority":
                    writers.add(path.relative_to(ROOT).as_posix())
    assert writers <= {
        "labeler/bulk/actions.py",  # its check is priority_parse
        "labeler/annotations/services.py",  # the top of the queue, worked out
        "labeler/images/admin.py",  # its form's check is priority_parse
        "labeler/images/queue_state.py",  # the one writer the others call
        "labeler/images/models.py",  # the field itself
    }, writers
