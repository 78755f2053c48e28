"""An image's page describes its file: size, source, and what its EXIF and its leads say
(camera, capture time, position with a map, licence, tags), or that the file says nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from labeler.images.models import ImageTag
from labeler.projects.models import Role
from labeler.web.image_facts import map_url
from tests.factories import UserFactory, add_member

pytestmark = pytest.mark.django_db


def page_of(user, project, image) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("image-page", args=[project.pk, image.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def photo(project, make_images):
    (image,) = make_images(project, 1)
    image.original_name, image.source, image.source_key = (
        "IMG_0042.jpg",
        "import",
        "beach/IMG_0042.jpg",
    )
    image.camera = "Canon EOS 80D"
    image.captured_at = dt.datetime(2024, 7, 14, 16, 5, tzinfo=dt.UTC)
    image.gps_latitude, image.gps_longitude = 48.858370, -2.294481
    image.licence = "CC-BY-4.0"
    image.save()
    ImageTag.objects.create(image=image, name="summer")
    return image


def test_a_lead_sees_camera_time_position_and_the_rest(project, lead, photo):
    html = page_of(lead, project, photo)
    assert "<title>IMG_0042.jpg · Pets · labeler</title>" in html
    for shown in ("Canon EOS 80D", 'datetime="2024-07-14T16:05:00+00:00"', "CC-BY-4.0",
                  "beach/IMG_0042.jpg", "summer", "Imported from a folder",
                  "48.85837° N, 2.29448° W"):  # fmt: skip
        assert shown in html, shown
    link = map_url(48.858370, -2.294481).replace("&", "&amp;")
    assert f'href="{link}"' in html
    assert "https://www.openstreetmap.org/?mlat=48.858370&amp;mlon=-2.294481" in html


def test_a_reviewer_sees_the_metadata_but_not_where_the_photo_was_taken(project, photo):
    reviewer = UserFactory(username="checker")
    add_member(project, reviewer, Role.REVIEWER)
    html = page_of(reviewer, project, photo)
    assert "Canon EOS 80D" in html and "IMG_0042.jpg" in html
    assert "openstreetmap" not in html and "48.85" not in html
    assert "Shown to the project's leads only" in html


def test_a_file_without_metadata_says_so(project, lead, make_images):
    (image,) = make_images(project, 1)
    html = page_of(lead, project, image)
    for said in ("No camera data in this file", "No capture time in this file",
                 "No position in this file", "Uploaded"):  # fmt: skip
        assert said in html, said
    assert "openstreetmap" not in html


def test_annotators_cannot_open_an_image_page(project, annotator, photo):
    client = Client()
    client.force_login(annotator)
    assert client.get(reverse("image-page", args=[project.pk, photo.pk])).status_code == 403
