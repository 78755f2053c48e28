"""Exported photos carry no GPS position nor camera unless the project keeps them."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from labeler import flows
from labeler.images.models import Image
from tests.factories import ProjectFactory
from tests.labeler.exports.data import finalise
from tests.labeler.exports.formats import export_bytes
from tests.labeler.images import samples

pytestmark = pytest.mark.django_db

GPS_IFD, MAKE = 0x8825, 0x010F


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.endswith(".jpg")}


@pytest.fixture
def located(media_root):
    project = ProjectFactory(name="Trips")
    [result] = flows.images_ingest(
        project=project, files=[SimpleUploadedFile("IMG_1.jpg", samples.jpeg_located())]
    )
    image = Image.objects.get(pk=result.image_id)
    finalise(image, ["cat"])
    stored = image.file.read()
    assert PILImage.open(io.BytesIO(stored)).getexif().get_ifd(GPS_IFD)  # kept in storage
    return project, stored


@pytest.mark.parametrize("fmt", ["imagefolder", "hf-imagefolder"])
def test_an_exported_photo_carries_no_gps_position_by_default(located, fmt):
    project, stored = located
    [data] = members(export_bytes(project, format=fmt, annotations="final")).values()

    exif = PILImage.open(io.BytesIO(data)).getexif()
    assert not exif.get_ifd(GPS_IFD) and MAKE not in exif and b"PhoneMaker" not in data
    # the compressed pixels are the stored file's, copied as they are
    assert data.endswith(stored[stored.index(b"\xff\xda") :])


def test_a_project_that_keeps_metadata_exports_the_files_as_stored(located):
    project, stored = located
    project.export_keep_metadata = True
    project.save()

    [data] = members(export_bytes(project, format="imagefolder")).values()

    assert data == stored


@pytest.mark.parametrize("fmt", ["imagefolder", "hf-imagefolder"])
def test_a_converted_photo_carries_its_position_only_where_the_project_keeps_it(fmt):
    """A HEIC goes as a JPEG: without its GPS position and camera by default, with them
    where the project keeps photos' metadata."""
    project = ProjectFactory(name="Trips")
    [result] = flows.images_ingest(
        project=project,
        files=[SimpleUploadedFile("IMG_2.heic", samples.photo_located("HEIF"))],
    )
    finalise(Image.objects.get(pk=result.image_id), ["cat"])

    [data] = members(export_bytes(project, format=fmt)).values()
    exif = PILImage.open(io.BytesIO(data)).getexif()
    assert not exif.get_ifd(GPS_IFD) and MAKE not in exif and b"PhoneMaker" not in data

    project.export_keep_metadata = True
    project.save()
    [data] = members(export_bytes(project, format=fmt)).values()
    exif = PILImage.open(io.BytesIO(data)).getexif()
    assert exif.get_ifd(GPS_IFD)[1] == "N" and exif[MAKE] == "PhoneMaker"
