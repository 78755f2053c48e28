"""The faces API: leads and admins list, add and delete an image's face boxes and find
them again; everyone else is refused; bad input gets a 4xx that says what is wrong."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data as samples

from labeler import flows
from labeler.images.models import FaceRegion, Image
from labeler.projects.models import Project
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def photo() -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(samples.astronaut()).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def image(project, django_capture_on_commit_callbacks) -> Image:
    Project.objects.filter(pk=project.pk).update(blur_faces=True)
    project.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        (result,) = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("a.jpg", photo())]
        )
    return Image.objects.get(pk=result.image_id)


def faces_url(image: Image, rest: str = "") -> str:
    return f"/api/v1/projects/{image.project_id}/images/{image.pk}/faces/{rest}"


def face_pixels(client, image: Image) -> np.ndarray:
    url = f"/api/v1/projects/{image.project_id}/images/{image.pk}/thumbnail/"
    content = b"".join(client.get(url).streaming_content)
    with PILImage.open(io.BytesIO(content)) as thumbnail:
        return np.asarray(thumbnail.convert("RGB")).astype(float)


def test_a_lead_lists_deletes_adds_and_finds_again(
    image, lead, annotator, django_capture_on_commit_callbacks
):
    """The detected box is listed; deleted, the thumbnail is made again unblurred and a new
    detection leaves it deleted; a drawn box is blurred in the next thumbnail."""
    client = client_for(lead)
    listed = client.get(faces_url(image)).json()
    assert listed["blur_faces"] and listed["state"] == "done"
    (found,) = listed["regions"]
    assert found["source"] == "detected" and not found["removed"]
    blurred = image.thumbnail.name

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(faces_url(image, f"{found['id']}/")).status_code == 204
    image.refresh_from_db()
    assert image.thumbnail.name != blurred
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(faces_url(image, "detect/"))
    assert response.status_code == 202
    regions = client.get(faces_url(image)).json()["regions"]
    assert [r["removed"] for r in regions] == [True]  # found again, left deleted

    before = face_pixels(client_for(annotator), image)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            faces_url(image), {"left": 0, "top": 0, "width": 200, "height": 200}, format="json"
        )
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "lead"
    after = face_pixels(client_for(annotator), image)
    corner = slice(0, 20), slice(0, 20)
    assert not np.array_equal(before[corner], after[corner])
    assert FaceRegion.objects.filter(image=image, removed=False, source="lead").count() == 1


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_only_leads_and_admins(image, annotator, outsider, admin_user, method):
    """Annotators are refused (403), strangers find nothing (404), admins pass."""
    region = FaceRegion.objects.get(image=image)
    url = faces_url(image, f"{region.pk}/" if method == "delete" else "")
    body = {"left": 1, "top": 1, "width": 5, "height": 5}
    assert getattr(client_for(annotator), method)(url, body, format="json").status_code == 403
    assert getattr(client_for(outsider), method)(url, body, format="json").status_code == 404
    expected = {"get": 200, "post": 201, "delete": 204}[method]
    assert getattr(client_for(admin_user), method)(url, body, format="json").status_code == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "left"),
        ({"left": -1, "top": 0, "width": 5, "height": 5}, "left"),
        ({"left": 0, "top": 0, "width": 0, "height": 5}, "width"),
        ({"left": "x", "top": 0, "width": 5, "height": 5}, "left"),
        ({"left": 0, "top": 0, "width": 5, "height": 1e30}, "height"),
        ({"left": 500, "top": 0, "width": 50, "height": 5}, "detail"),
        ({"left": 0, "top": 510, "width": 5, "height": 5}, "detail"),
        (["left"], "non_field_errors"),
    ],
)
def test_bad_boxes_are_refused(image, lead, body, field):
    """A box that is incomplete, not numbers, empty or leaving the image: 400, saying why."""
    response = client_for(lead).post(faces_url(image), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json() or field in str(response.json()), response.json()


def test_unknown_images_and_boxes(image, lead, project):
    """An image of another project, a box of another image or one deleted already: 404."""
    client = client_for(lead)
    assert client.get(f"/api/v1/projects/{project.pk}/images/999999/faces/").status_code == 404
    assert client.delete(faces_url(image, "999999/")).status_code == 404
    region = FaceRegion.objects.get(image=image)
    assert client.delete(faces_url(image, f"{region.pk}/")).status_code == 204
    response = client.delete(faces_url(image, f"{region.pk}/"))
    assert response.status_code == 404 and "not a face box" in response.json()["detail"]


def test_detect_in_a_project_that_does_not_blur(image, lead):
    """Finding faces again where the project blurs none: 400 naming the setting."""
    Project.objects.filter(pk=image.project_id).update(blur_faces=False)
    response = client_for(lead).post(faces_url(image, "detect/"))
    assert response.status_code == 400 and "blur_faces" in str(response.json())
