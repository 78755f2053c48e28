"""In a project that blurs faces the queue hands out an image only once its faces are
blurred: ``next/`` and the grid's ``page/`` pass over it, a held lease is not renewed,
and a label sent for it without a lease is refused with the reason."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from labeler.annotations.models import Assignment
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project, make_images):
    """Three images of a project that blurs faces: the first's faces still being found."""
    made = make_images(project, 3)
    Project.objects.filter(pk=project.pk).update(blur_faces=True, overlap=1)
    Image.objects.filter(pk__in=[i.pk for i in made]).update(faces_state="done")
    Image.objects.filter(pk=made[0].pk).update(faces_state="pending")
    return made


def handed_out(client, project) -> list[int]:
    ids = []
    while (answer := client.get(f"/api/v1/projects/{project.pk}/next/")).status_code == 200:
        image_id = answer.json()["image"]["id"]
        ids.append(image_id)
        body = {"image": image_id, "labels": ["cat"], "time_spent_ms": 500}
        saved = client.post(f"/api/v1/projects/{project.pk}/annotations/", body, format="json")
        assert saved.status_code == 201, saved.content
    assert answer.status_code == 204
    return ids


def test_next_passes_over_an_image_whose_faces_are_not_blurred(project, annotator, images):
    client = client_for(annotator)
    assert handed_out(client, project) == [images[1].pk, images[2].pk]
    Image.objects.filter(pk=images[0].pk).update(faces_state="done")
    assert handed_out(client, project) == [images[0].pk]


def test_the_grid_page_passes_over_it_too(project, annotator, images):
    page = client_for(annotator).get(f"/api/v1/projects/{project.pk}/queue/page/?size=12")
    assert page.status_code == 200, page.content
    shown = {item["image"]["id"] for item in page.json()["images"]}
    assert shown == {images[1].pk, images[2].pk}


def test_a_late_label_is_refused_with_the_reason(project, annotator, images):
    """A label that comes after its lease ran out takes a new lease: refused while the
    image's faces are blurred again, and the answer says so."""
    client = client_for(annotator)
    first = client.get(f"/api/v1/projects/{project.pk}/next/").json()["image"]["id"]
    Assignment.objects.filter(image_id=first).update(expires_at=_now() - timedelta(seconds=1))
    Image.objects.filter(pk=first).update(faces_state="deriving")
    body = {"image": first, "labels": ["cat"], "time_spent_ms": 500}
    answer = client.post(f"/api/v1/projects/{project.pk}/annotations/", body, format="json")
    assert answer.status_code == 409, answer.content
    assert answer.json()["code"] == "faces_not_blurred"
    assert "faces are found and blurred" in answer.json()["detail"]


def test_a_held_lease_is_not_renewed_once_its_boxes_change(project, annotator, images):
    """A lead's new box sends the image back to "deriving": the annotator's next call
    does not renew its lease, and hands out another image."""
    client = client_for(annotator)
    first = client.get(f"/api/v1/projects/{project.pk}/next/").json()["image"]["id"]
    Image.objects.filter(pk=first).update(faces_state="deriving")
    again = client.get(f"/api/v1/projects/{project.pk}/next/").json()["image"]["id"]
    assert again != first
    assert not Assignment.objects.filter(image_id=first, expires_at__gt=_now()).exists()


def test_a_project_that_does_not_blur_ignores_the_state(project, annotator, images):
    Project.objects.filter(pk=project.pk).update(blur_faces=False)
    assert len(handed_out(client_for(annotator), project)) == 3


def _now() -> datetime:
    return timezone.now()


@pytest.mark.parametrize("state", ["pending", "deriving", "failed"])
def test_a_thumbnail_not_made_while_faces_are_found_is_a_409_saying_so(
    project, annotator, reviewer, images, state
):
    """The thumbnail of an image whose faces are not found yet (so not made yet) answers
    409 with the reason to those shown blurred copies, as its other addresses do: not a
    404."""
    Image.objects.filter(pk=images[0].pk).update(faces_state=state, thumbnail="")
    url = f"/api/v1/projects/{project.pk}/images/{images[0].pk}/thumbnail/"
    for user in (annotator, reviewer):
        answer = client_for(user).get(url)
        assert answer.status_code == 409, answer.content
        assert answer.json()["code"] == "faces_not_blurred"
        assert "faces" in answer.json()["detail"]
