"""The admin shows annotations and final labels but cannot change them (the history would
miss the change)."""

from __future__ import annotations

import pytest
from django.test import Client

from labeler.agreement.services import image_decide
from labeler.annotations.models import Annotation, FinalLabel
from tests.factories import annotation_submit

pytestmark = pytest.mark.django_db


def test_staff_see_labels_in_the_admin_but_cannot_change_or_delete_them(
    admin_user, project, lead, annotator, make_images
):
    [image] = make_images(project, 1)
    annotation, _ = annotation_submit(
        project=project, annotator=annotator, image_id=image.pk, labels=["cat"]
    )
    final = image_decide(
        project=project, image_id=image.pk, labels=["dog"], decided_by=lead, method="gold"
    )
    browser = Client()
    browser.force_login(admin_user)
    for model, row in (("annotation", annotation), ("finallabel", final)):
        url = f"/admin/annotations/{model}/{row.pk}/change/"
        assert browser.get(url).status_code == 200
        assert browser.post(url, {"image": image.pk}).status_code == 403
        assert browser.post(f"{url[:-7]}delete/", {"post": "yes"}).status_code == 403
        assert browser.get(f"/admin/annotations/{model}/add/").status_code == 403
    assert [label.name for label in Annotation.objects.get().labels.all()] == ["cat"]
    assert [label.name for label in FinalLabel.objects.get().labels.all()] == ["dog"]
