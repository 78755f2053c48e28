"""JSON, JSON Lines, CSV, COCO and Label Studio exports carry each image's metadata; its
GPS position only where the project keeps photos' metadata in its exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.exports.formats.coco import licence_url
from labeler.images.models import Image, ImageTag
from tests.factories import image_bytes
from tests.labeler.exports.data import finalise
from tests.labeler.exports.formats import export_bytes
from tests.labeler.images.catalogue.test_exif import PHONE, photo

pytestmark = pytest.mark.django_db

LATITUDE, LONGITUDE = "-33.86", "151.21"  # as the coordinates start in any text


@pytest.fixture
def images(project):
    """A located phone photo, licensed and tagged; a plain imported image; both labelled."""
    files = [
        SimpleUploadedFile("IMG_1.jpg", photo(**PHONE)),
        SimpleUploadedFile("b.png", image_bytes()),
    ]
    results = flows.images_ingest(project=project, files=files)
    first, second = (Image.objects.get(pk=result.image_id) for result in results)
    Image.objects.filter(pk=first.pk).update(licence="CC-BY-4.0")
    Image.objects.filter(pk=second.pk).update(
        source="import", source_key="trip/b.png", licence="proprietary"
    )
    ImageTag.objects.bulk_create([ImageTag(image=first, name=n) for n in ("night", "batch-7")])
    finalise(first, ["cat"])
    finalise(second, ["dog"])
    return first, second


def keep(project) -> None:
    project.export_keep_metadata = True
    project.save()


def test_json_carries_each_images_metadata_and_no_position_by_default(project, images):
    first, second = json.loads(export_bytes(project, format="json"))["images"]

    assert first["captured_at"] == "2023-07-14T08:02:33+00:00"
    assert first["camera"] == "Apple iPhone 12"
    assert first["licence"] == "CC-BY-4.0" and first["tags"] == ["batch-7", "night"]
    assert (first["source"], first["source_key"]) == ("upload", "")
    assert (second["source"], second["source_key"]) == ("import", "trip/b.png")
    assert second["captured_at"] is None and second["tags"] == []
    assert "gps" not in first


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "coco", "label-studio"])
def test_no_export_holds_a_position_by_default(project, images, fmt):
    text = export_bytes(project, format=fmt).decode()
    assert LATITUDE not in text and LONGITUDE not in text and "gps" not in text


def test_json_and_jsonl_carry_the_position_where_the_project_keeps_it(project, images):
    keep(project)
    document = json.loads(export_bytes(project, format="json"))
    assert document["images"][0]["gps"]["latitude"] == pytest.approx(-33.8651389)
    assert document["images"][1]["gps"] is None
    lines = export_bytes(project, format="jsonl").decode().splitlines()
    assert json.loads(lines[0])["gps"]["longitude"] == pytest.approx(151.21)


def test_csv_has_metadata_columns_and_position_columns_where_kept(project, images):
    rows = list(csv.DictReader(io.StringIO(export_bytes(project, format="csv").decode())))
    assert rows[0]["camera"] == "Apple iPhone 12" and rows[0]["tags"] == "batch-7;night"
    assert rows[0]["captured_at"] == "2023-07-14T08:02:33+00:00"
    assert rows[1]["source_key"] == "trip/b.png" and rows[1]["captured_at"] == ""
    assert "gps_latitude" not in rows[0]

    keep(project)
    rows = list(csv.DictReader(io.StringIO(export_bytes(project, format="csv").decode())))
    assert float(rows[0]["gps_latitude"]) == pytest.approx(-33.8651389)
    assert (rows[1]["gps_latitude"], rows[1]["gps_longitude"]) == ("", "")


def test_coco_images_carry_capture_date_licence_and_extras(project, images, tmp_path):
    coco_module = pytest.importorskip("pycocotools.coco")
    path = tmp_path / "coco.json"
    path.write_bytes(export_bytes(project, format="coco"))
    coco = coco_module.COCO(str(path))
    document = json.loads(path.read_text())

    assert document["licenses"] == [
        {"id": 1, "name": "CC-BY-4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
        {"id": 2, "name": "proprietary", "url": ""},
    ]
    first, second = coco.loadImgs([images[0].pk, images[1].pk])
    assert first["license"] == 1 and second["license"] == 2
    assert first["date_captured"] == "2023-07-14T08:02:33+00:00"
    assert "date_captured" not in second
    assert first["camera"] == "Apple iPhone 12" and first["tags"] == ["batch-7", "night"]
    assert second["source_key"] == "trip/b.png" and "gps" not in first

    keep(project)
    kept = json.loads(export_bytes(project, format="coco"))["images"]
    assert kept[0]["gps"]["latitude"] == pytest.approx(-33.8651389) and kept[1]["gps"] is None


def test_coco_lists_only_the_licences_of_the_images_it_holds(project, images):
    document = json.loads(export_bytes(project, format="coco", label="cat"))
    assert [licence["name"] for licence in document["licenses"]] == ["CC-BY-4.0"]


def test_label_studio_tasks_carry_the_metadata_in_meta(project, images):
    task = json.loads(export_bytes(project, format="label-studio"))[0]
    assert task["meta"]["camera"] == "Apple iPhone 12" and "gps" not in task["meta"]


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"),
        ("cc-by-nc-sa-2.0", "https://creativecommons.org/licenses/by-nc-sa/2.0/"),
        ("CC0-1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
        ("https://example.com/terms", "https://example.com/terms"),
        ("All rights reserved", ""),
        ("CC-BY-4.0 and more", ""),
    ],
)
def test_a_licence_url(name, url):
    assert licence_url(name) == url
