"""A stored image records what its EXIF says and where it came from; a project may keep
no position in its originals at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags
from PIL import Image as PILImage

from labeler import flows
from labeler.images.models import Image
from labeler.images.pixels.files import image_check
from labeler.images.services import image_store
from tests.factories import image_bytes
from tests.labeler.images.catalogue.test_exif import PHONE, photo

pytestmark = pytest.mark.django_db

GPS_IFD = ExifTags.IFD.GPSInfo


def upload(project, name: str, data: bytes) -> Image:
    [result] = flows.images_ingest(project=project, files=[SimpleUploadedFile(name, data)])
    assert result.status == "created", result.reason
    return Image.objects.get(pk=result.image_id)


def test_an_upload_records_its_capture_time_camera_and_position(project):
    data = photo(**PHONE)

    image = upload(project, "IMG_0001.jpg", data)

    assert image.captured_at == dt.datetime(2023, 7, 14, 8, 2, 33, tzinfo=dt.UTC)
    assert image.camera == "Apple iPhone 12"
    assert image.gps_latitude == pytest.approx(-33.865139)
    assert image.gps_longitude == pytest.approx(151.21)
    assert (image.source, image.source_key, image.original_name) == ("upload", "", "IMG_0001.jpg")
    assert image.file.read() == data  # byte for byte by default
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_an_image_without_exif_has_blank_metadata(project):
    image = upload(project, "plain.png", image_bytes())
    assert (image.captured_at, image.camera, image.gps_latitude, image.gps_longitude) == (
        None,
        "",
        None,
        None,
    )


def test_a_time_without_offset_is_read_in_the_servers_time_zone(project, settings):
    settings.TIME_ZONE = "Europe/Paris"
    data = photo(main={ExifTags.Base.DateTimeOriginal: "2023:07:14 18:02:33"})

    image = upload(project, "a.jpg", data)

    paris = image.captured_at.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    assert (paris.hour, paris.minute) == (18, 2)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_a_project_that_strips_metadata_stores_no_position_but_the_time_and_camera(project, fmt):
    project.strip_metadata_on_ingest = True
    project.save()
    data = photo(fmt, **PHONE)

    image = upload(project, f"photo.{fmt.lower()}", data)

    stored = image.file.read()
    exif = PILImage.open(io.BytesIO(stored)).getexif()
    assert not exif.get_ifd(GPS_IFD) and ExifTags.Base.Make not in exif
    assert b"iPhone" not in stored
    assert image.sha256 == hashlib.sha256(stored).hexdigest()  # hashed as stored
    assert (image.gps_latitude, image.gps_longitude) == (None, None)
    assert image.camera == "Apple iPhone 12"
    assert image.captured_at == dt.datetime(2023, 7, 14, 8, 2, 33, tzinfo=dt.UTC)
    assert (image.width, image.height, image.format) == (16, 12, fmt)


def test_stripping_keeps_a_jpegs_pixels_and_finds_the_same_photo_again(project):
    project.strip_metadata_on_ingest = True
    project.save()
    data = photo(**PHONE)

    image = upload(project, "a.jpg", data)
    [again] = flows.images_ingest(project=project, files=[SimpleUploadedFile("b.jpg", data)])

    stored = image.file.read()
    assert stored.endswith(data[data.index(b"\xff\xda") :])  # the compressed pixels as sent
    assert (again.status, again.image_id) == ("duplicate", image.pk)


def test_a_file_without_metadata_is_stored_as_sent_even_when_stripping(project):
    project.strip_metadata_on_ingest = True
    project.save()
    data = image_bytes()
    assert upload(project, "plain.png", data).file.read() == data


def test_a_photo_whose_metadata_cannot_be_removed_is_refused_not_stored_with_it(
    project, monkeypatch, media_root
):
    project.strip_metadata_on_ingest = True
    project.save()

    def broken(data: bytes, image_format: str) -> bytes:
        raise ValueError("A JPEG segment was expected at byte 20.")

    monkeypatch.setattr("labeler.images.pixels.private_metadata.metadata_strip", broken)
    [result] = flows.images_ingest(
        project=project, files=[SimpleUploadedFile("a.jpg", photo(**PHONE))]
    )

    assert result.status == "rejected"
    assert "metadata (GPS position, camera, owner) could not be removed" in result.reason
    assert Image.objects.count() == 0


def test_a_duplicate_keeps_the_first_images_metadata_and_source(project):
    first = upload(project, "a.jpg", photo(**PHONE))
    image, created = image_store(
        project=project,
        name="again.jpg",
        checked=image_check(photo(**PHONE)),
        source="import",
        source_key="trip/again.jpg",
    )
    assert (image.pk, created, image.source) == (first.pk, False, "upload")


def test_the_source_key_is_kept_with_forward_slashes_and_cut_to_its_column(project):
    image, _ = image_store(
        project=project,
        name="a.png",
        checked=image_check(image_bytes()),
        source="import",
        source_key="trips\\2023\\" + "x" * 2000,
    )
    assert image.source_key.startswith("trips/2023/") and len(image.source_key) == 1024


def test_a_photo_stored_whole_before_stripping_was_chosen_is_found_again(project):
    data = photo(**PHONE)
    first = upload(project, "a.jpg", data)
    project.strip_metadata_on_ingest = True
    project.save()

    [again] = flows.images_ingest(project=project, files=[SimpleUploadedFile("b.jpg", data)])

    assert (again.status, again.image_id) == ("duplicate", first.pk)
