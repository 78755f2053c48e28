"""The admin's image form leaves alone what the queue's lease gate reads and what the
image's own services write (its project, files, decoding problem, completeness, the
annotators adaptive overlap asked for, near-duplicate hashes), and adds no image."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from labeler.annotations.queue import queue_next_image
from labeler.images.models import STORED_FILE_FIELDS, Image
from tests.factories import ProjectFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db

OWNED = (
    "project",
    "file",
    "thumbnail",
    "display",
    "converted",
    "source",
    "source_key",
    "problem",
    "is_complete",
    "extra_annotations",
    "phash",
    "duplicate_group",
)


def test_the_admin_changes_nothing_the_lease_gate_reads(
    admin_user, project, annotator, annotator2, make_images
):
    """A complete image given five more annotators here (or marked incomplete, its
    decoding problem cleared, moved to another project with its labels) was handed out
    by the queue past the project's overlap."""
    [image] = make_images(project, 1)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    image.refresh_from_db()
    assert image.is_complete
    other = ProjectFactory(name="Other")
    before = {name: getattr(image, name) for name in OWNED}
    browser = Client()
    browser.force_login(admin_user)
    url = f"/admin/images/image/{image.pk}/change/"
    assert browser.get(url).status_code == 200
    files = STORED_FILE_FIELDS
    data = {k: "" if v is None else v for k, v in model_to_dict(image).items() if k not in files}
    data.update(project=other.pk, is_complete="", extra_annotations=5, problem="", priority=3.0)
    browser.post(url, data)
    image.refresh_from_db()
    assert {name: getattr(image, name) for name in OWNED} == before
    assert image.priority == 3.0  # what the admin may still change
    add_member(project, admin_user)  # a third annotator asks: nothing is left
    assert queue_next_image(project=project, annotator=admin_user) is None
    assert browser.get("/admin/images/image/add/").status_code == 403
    assert Image.objects.count() == 1
