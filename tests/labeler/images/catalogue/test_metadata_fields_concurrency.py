"""Images' metadata and a project's fields under real concurrency on PostgreSQL: a change of
each image its own beside another request's, a field removed while a change of images'
values is being written, and two leads declaring one name at once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from labeler.errors import Conflict
from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create, field_delete
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import images_describe, images_describe_each
from labeler.images.models import FieldValue, Image, MetadataField
from tests.labeler.annotations.test_queue_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(needs_postgres):
    assert connection.vendor == "postgresql"


def _someone_waits_for_a_lock(seconds: float = 10.0) -> None:
    """Return once another session of this database waits for a lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("no session waited for a lock")


def test_a_field_removed_while_its_values_are_written_goes_with_them(project, make_images):
    """The removal waits for the change being written, then removes its values too: it
    once removed the values it saw, then failed on the new ones' foreign key (a 500)."""
    ids = [image.pk for image in make_images(project, 3)]
    field_create(project=project, name="age", kind="number")
    description = description_read({"fields": {"age": 3}}, fields=project_fields(project))
    field = MetadataField.objects.get(project=project, name="age")
    written = threading.Event()

    def job(i: int, barrier: threading.Barrier) -> object:
        barrier.wait()
        if i == 0:  # a lead's bulk change, still open when the removal comes
            with transaction.atomic():
                images_describe(project=project, image_ids=ids, description=description)
                written.set()
                _someone_waits_for_a_lock()
            return "written"
        assert written.wait(10)
        return field_delete(field=field)

    assert run_together(2, job) == ["written", 3]
    assert not FieldValue.objects.exists() and not MetadataField.objects.exists()


def test_a_change_of_each_image_its_own_keeps_what_another_request_changed(project, make_images):
    """A bulk change of origins on one image and cameras on another writes both columns of
    both images back; a camera another lead was saving on the first image meanwhile was
    overwritten with the value read before it (the rows are locked as read now)."""
    first, second = make_images(project, 2)
    fields = project_fields(project)
    changes = [
        (first.pk, description_read({"origin": "scan"}, fields=fields)),
        (second.pk, description_read({"camera": "Nikon"}, fields=fields)),
    ]
    saving = threading.Event()

    def job(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        if i == 0:  # another lead's change of the first image's camera, still open
            with transaction.atomic():
                Image.objects.filter(pk=first.pk).update(camera="Canon")
                saving.set()
                _someone_waits_for_a_lock()
            return "camera"
        assert saving.wait(10)
        images_describe_each(project=project, changes=changes)
        return "bulk"

    assert run_together(2, job) == ["camera", "bulk"]
    assert Image.objects.get(pk=first.pk).camera == "Canon"
    assert Image.objects.get(pk=first.pk).origin == "scan"


def test_two_leads_declaring_one_name_at_once_get_one_field_and_a_409(project):
    def job(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        try:
            field_create(project=project, name="site", kind="text")
        except Conflict:
            return "conflict"
        return "created"

    assert sorted(run_together(2, job)) == ["conflict", "created"]
    assert MetadataField.objects.filter(project=project).count() == 1
