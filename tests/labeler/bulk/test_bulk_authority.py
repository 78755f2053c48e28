"""A bulk action is a lead's or an admin's, both when asked for and when a queued one runs."""

from __future__ import annotations

import pytest

from labeler.bulk.models import BulkAction
from labeler.bulk.services import bulk_action
from labeler.errors import PermissionDenied
from labeler.images.models import Image
from labeler.projects.models import Membership, Role

pytestmark = pytest.mark.django_db


def queue_delete(project, lead, images, settings, capture):
    settings.LABELER_BULK_BACKGROUND_OVER = 1
    with capture(execute=False) as callbacks:
        record = bulk_action(
            project=project,
            user=lead,
            action="delete",
            selection={"ids": [image.pk for image in images]},
            expected_count=len(images),
        )
    assert record.status == "queued" and len(callbacks) == 1
    return record, callbacks[0]


@pytest.mark.parametrize("lost", ["demoted", "removed", "deactivated"])
def test_a_queued_action_whose_asker_lost_the_lead_role_runs_nothing(
    project, lead, annotator, make_images, settings, django_capture_on_commit_callbacks, lost
):
    """A delete queued by a lead ran in the worker after another lead had made them an
    annotator (or removed them, or their account was deactivated): the job acted with
    authority its asker no longer had."""
    # Another lead, so that the project keeps one.
    Membership.objects.filter(project=project, user=annotator).update(role=Role.LEAD)
    images = make_images(project, 3)
    record, job = queue_delete(project, lead, images, settings, django_capture_on_commit_callbacks)
    membership = Membership.objects.get(project=project, user=lead)
    if lost == "demoted":
        membership.role = Role.ANNOTATOR
        membership.save(update_fields=["role"])
    elif lost == "removed":
        membership.delete()
    else:
        lead.is_active = False
        lead.save(update_fields=["is_active"])
    job()  # the job, as the worker runs it
    record.refresh_from_db()
    assert record.status == "failed"
    assert "leads and admins" in record.error
    assert Image.objects.filter(project=project).count() == 3


def test_a_queued_action_of_a_current_lead_or_admin_runs(
    project, lead, admin_user, make_images, settings, django_capture_on_commit_callbacks
):
    images = make_images(project, 4)
    for who, batch in ((lead, images[:2]), (admin_user, images[2:])):
        record, job = queue_delete(
            project, who, batch, settings, django_capture_on_commit_callbacks
        )
        job()
        record.refresh_from_db()
        assert record.status == "done"
    assert not Image.objects.filter(project=project).exists()


def test_the_service_refuses_a_non_lead_asking(project, annotator, make_images):
    images = make_images(project, 2)
    with pytest.raises(PermissionDenied):
        bulk_action(
            project=project,
            user=annotator,
            action="priority",
            selection={"ids": [image.pk for image in images]},
            params={"priority": 3},
        )
    assert not BulkAction.objects.exists()
