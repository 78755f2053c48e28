"""The Near-duplicates page says a group whose labels differ is in review only while a
review request of one of its images is open."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.agreement.duplicate_labels import duplicate_reviews_request
from labeler.agreement.review_requests import review_requests_resolve
from labeler.images.models import Image
from tests.labeler.exports.data import finalise
from tests.labeler.images.scenes import COPIES, encoded, scene


@pytest.fixture
def copies(project, media_root, settings, django_capture_on_commit_callbacks):
    """A picture and a resized copy of it, through the real ingest."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    picture = scene(1, (320, 240))
    files = {"p.png": encoded(picture), "p-small.jpg": encoded(COPIES["resized"](picture), "JPEG")}
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()]
        )
    return {r.name: Image.objects.get(pk=r.image_id or 0) for r in results}


def flags(html: str) -> list[str]:
    return [part.split("</span>", 1)[0] for part in html.split('class="dup-flag">')[1:]]


@pytest.mark.django_db
def test_the_duplicates_page_says_sent_to_review_only_while_a_request_is_open(
    client, project, lead, copies
):
    finalise(copies["p.png"], ["cat"])
    finalise(copies["p-small.jpg"], ["dog"])
    client.force_login(lead)
    url = f"/projects/{project.pk}/duplicates/"

    assert flags(client.get(url).content.decode()) == ["labels differ"]

    duplicate_reviews_request(project=project)
    assert flags(client.get(url).content.decode()) == ["labels differ: sent to review"]

    review_requests_resolve(project, [copies["p.png"].pk, copies["p-small.jpg"].pk])
    assert flags(client.get(url).content.decode()) == ["labels differ"]
