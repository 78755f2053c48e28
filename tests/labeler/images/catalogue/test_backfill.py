"""Images stored before EXIF was read at ingest get their capture time, camera and position."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from labeler import flows
from labeler.images.models import Image
from tests.factories import ProjectFactory, image_bytes
from tests.labeler.images.catalogue.test_exif import PHONE, photo

pytestmark = pytest.mark.django_db


def stored_blank(project, name: str, data: bytes) -> Image:
    """An image as stored before the metadata columns were filled."""
    [result] = flows.images_ingest(project=project, files=[SimpleUploadedFile(name, data)])
    Image.objects.filter(pk=result.image_id).update(
        captured_at=None, camera="", gps_latitude=None, gps_longitude=None
    )
    return Image.objects.get(pk=result.image_id)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("images_read_exif", *args, stdout=out)
    return out.getvalue()


def test_the_command_fills_what_the_files_say_and_can_run_again(project):
    photo_image = stored_blank(project, "IMG_1.jpg", photo(**PHONE))
    stored_blank(project, "plain.png", image_bytes())

    assert (
        run()
        == "2 images read, 1 given a capture time, camera or position, 0 whose file is missing.\n"
    )

    photo_image.refresh_from_db()
    assert photo_image.camera == "Apple iPhone 12"
    assert photo_image.gps_latitude == pytest.approx(-33.8651389)
    assert photo_image.captured_at is not None
    assert run().startswith("1 images read, 0 given")  # the plain one alone, again


def test_a_project_that_strips_metadata_gets_no_position(project):
    image = stored_blank(project, "IMG_1.jpg", photo(**PHONE))
    project.strip_metadata_on_ingest = True
    project.save()

    run("--project", str(project.pk))

    image.refresh_from_db()
    assert (image.camera, image.gps_latitude, image.gps_longitude) == (
        "Apple iPhone 12",
        None,
        None,
    )


def test_one_project_only_and_a_missing_file_is_counted(project):
    other = ProjectFactory(name="Other")
    mine = stored_blank(project, "IMG_1.jpg", photo(**PHONE))
    theirs = stored_blank(other, "IMG_2.jpg", photo(**PHONE))
    mine.file.storage.delete(mine.file.name)

    assert (
        "1 images read, 0 given a capture time, camera or position, 1 whose file is missing"
        in run("--project", str(project.pk))
    )
    theirs.refresh_from_db()
    assert theirs.camera == ""
    with pytest.raises(CommandError, match=r"Project 999999 does not exist\."):
        run("--project", "999999")
