"""Reservations keep images for annotators only: a lead or reviewer named would leave
the image to no one, so naming one is refused, through the API, saying who."""

from __future__ import annotations

import pytest

from labeler.annotations.models import ImageReservation
from labeler.annotations.queue import queue_next_image
from labeler.annotations.reservations import reservation_annotators
from labeler.errors import ValidationFailed
from labeler.projects.models import Role
from tests.conftest import client_for
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


def reserve(project, lead, image, names):
    return client_for(lead).post(
        f"/api/v1/projects/{project.pk}/images/bulk/",
        {
            "action": "reserve",
            "selection": {"ids": [image.pk]},
            "annotators": names,
            "expected_count": 1,
        },
        format="json",
    )


@pytest.mark.parametrize("role", [Role.LEAD, Role.REVIEWER])
def test_reserving_for_a_non_annotator_is_a_400_naming_them(project, lead, make_images, role):
    """The image stays open to every annotator, and no reservation is written."""
    [image] = make_images(project, 1)
    add_member(project, UserFactory(username="boss"), role)
    response = reserve(project, lead, image, ["ann1", "boss"])
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["errors"]) == ["annotators"]
    assert f"'boss' ({role.label.lower()})" in body["detail"]
    assert "annotators only" in body["detail"]
    assert not ImageReservation.objects.exists()


def test_reserving_for_annotators_keeps_the_image_for_them(
    project, lead, annotator, annotator2, make_images
):
    [image] = make_images(project, 1)
    response = reserve(project, lead, image, ["ann2"])
    assert response.status_code in (200, 201, 202), response.content
    assert queue_next_image(project=project, annotator=annotator) is None
    assert queue_next_image(project=project, annotator=annotator2).image_id == image.pk


def test_unknown_names_are_refused_before_roles(project):
    with pytest.raises(ValidationFailed, match="No member of this project is named 'ghost'"):
        reservation_annotators(project=project, usernames=["ghost", "lead"])
    with pytest.raises(ValidationFailed, match="must be a list of usernames"):
        reservation_annotators(project=project, usernames="ann1")
