"""Imported images say where they came from: source "import" and their path in the folder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from labeler.images.models import Image
from tests.factories import image_bytes
from tests.labeler.images.catalogue.test_exif import PHONE, photo

pytestmark = pytest.mark.django_db


def test_the_import_command_records_each_files_path_and_its_exif(project, tmp_path: Path):
    folder = tmp_path / "data"
    (folder / "trip" / "day 1").mkdir(parents=True)
    (folder / "trip" / "day 1" / "IMG_1.jpg").write_bytes(photo(**PHONE))
    (folder / "plain.png").write_bytes(image_bytes())

    call_command("import_images", str(project.pk), str(folder), stdout=io.StringIO())

    images = {image.original_name: image for image in Image.objects.filter(project=project)}
    assert {name: (i.source, i.source_key) for name, i in images.items()} == {
        "IMG_1.jpg": ("import", "trip/day 1/IMG_1.jpg"),
        "plain.png": ("import", "plain.png"),
    }
    assert images["IMG_1.jpg"].camera == "Apple iPhone 12"
    assert images["IMG_1.jpg"].gps_latitude is not None


def test_an_import_into_a_project_that_strips_metadata_keeps_no_position(project, tmp_path):
    project.strip_metadata_on_ingest = True
    project.save()
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "IMG_1.jpg").write_bytes(photo(**PHONE))

    call_command("import_images", str(project.pk), str(folder), stdout=io.StringIO())

    image = Image.objects.get(project=project)
    assert (image.gps_latitude, image.camera) == (None, "Apple iPhone 12")
    assert b"iPhone" not in image.file.read()
