"""Imports set each image's metadata from its labels file: CSV columns, our JSON Lines keys,
COCO's date_captured, license and extra keys, Label Studio tasks' meta and data. A value
that does not fit is a 400 naming the record, the file and the field, before any file is
stored."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import image_field_values
from labeler.images.models import Image
from tests.factories import image_bytes
from tests.labeler.imports.test_archive import zipped

pytestmark = pytest.mark.django_db

TAKEN = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def fields(project):
    field_create(project=project, name="site", kind="choice", choices=["north", "south"])
    field_create(project=project, name="age", kind="number")


def csv_text(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


CSV = csv_text(
    [
        {
            "file": "a.png",
            "label": "cat",
            "captured_at": "2024-05-01T10:00:00+02:00",
            "latitude": "48.85",
            "longitude": "2.35",
            "origin": "Kaggle",
            "camera": "Canon",
            "licence": "CC-BY-4.0",
            "tags": "night;batch 7",
            "field:site": "north",
            "age": "30",
        },
        {
            "file": "b.png",
            "label": "",
            "captured_at": "",
            "latitude": "",
            "longitude": "",
            "origin": "scan",
            "camera": "",
            "licence": "",
            "tags": "",
            "field:site": "",
            "age": "",
        },
    ]
)
JSONL = "\n".join(
    json.dumps(line)
    for line in [
        {
            "file_name": "a.png",
            "final_labels": ["cat"],
            "captured_at": "2024-05-01T08:00:00Z",
            "gps": {"latitude": 48.85, "longitude": 2.35},
            "origin": "Kaggle",
            "camera": "Canon",
            "licence": "CC-BY-4.0",
            "tags": ["night", "batch 7"],
            "source": "upload",
            "fields": {"site": "north", "age": 30},
        },
        {"file_name": "b.png", "final_labels": [], "origin": "scan", "captured_at": None},
    ]
).encode()
COCO = json.dumps(
    {
        "licenses": [{"id": 1, "name": "CC-BY-4.0", "url": ""}],
        "categories": [{"id": 1, "name": "cat"}],
        "images": [
            {
                "id": 1,
                "file_name": "a.png",
                "width": 32,
                "height": 24,
                "license": 1,
                "date_captured": "2024-05-01 08:00:00",
                "camera": "Canon",
                "origin": "Kaggle",
                "tags": ["night", "batch 7"],
                "gps": {"latitude": 48.85, "longitude": 2.35},
                "fields": {"site": "north", "age": 30},
            },
            {"id": 2, "file_name": "b.png", "width": 32, "height": 24, "origin": "scan"},
        ],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1}],
    }
).encode()
LABEL_STUDIO = json.dumps(
    [
        {
            "data": {"image": "/data/upload/1/a.png", "origin": "Kaggle", "age": 30},
            "meta": {
                "captured_at": "2024-05-01T08:00:00Z",
                "camera": "Canon",
                "licence": "CC-BY-4.0",
                "tags": ["night", "batch 7"],
                "fields": {"site": "north"},
                "gps": {"latitude": 48.85, "longitude": 2.35},
            },
            "annotations": [
                {"completed_by": 1, "result": [{"type": "choices", "value": {"choices": ["cat"]}}]}
            ],
        },
        {"data": {"image": "/data/upload/1/b.png"}, "meta": {"origin": "scan"}, "annotations": []},
    ]
).encode()
FILES = {"label-studio": LABEL_STUDIO, "csv": CSV, "jsonl": JSONL, "coco": COCO}


def post(client, project, labels_format: str, labels: bytes, images=("a.png", "b.png"), **more):
    archive = zipped({name: image_bytes() for name in images}).getvalue()
    return client.post(
        f"/api/v1/projects/{project.pk}/imports/archive/",
        {
            "archive": SimpleUploadedFile("data.zip", archive, "application/zip"),
            "labels_file": SimpleUploadedFile(f"labels.{labels_format}", labels),
            "labels_format": labels_format,
            "create_labels": True,
            **more,
        },
        format="multipart",
    )


@pytest.mark.parametrize("labels_format", sorted(FILES))
def test_each_format_sets_the_metadata_its_records_carry(
    api_as, lead, project, fields, labels_format
):
    response = post(api_as(lead), project, labels_format, FILES[labels_format])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["counts"]["out"]["metadata"] == 2
    assert [r["metadata"] for r in body["results"]] == [True, True]
    a = Image.objects.get(project=project, original_name="a.png")
    b = Image.objects.get(project=project, original_name="b.png")
    assert a.captured_at == TAKEN and (a.gps_latitude, a.gps_longitude) == (48.85, 2.35)
    assert (a.origin, a.camera, a.licence) == ("Kaggle", "Canon", "CC-BY-4.0")
    assert sorted(a.tags.values_list("name", flat=True)) == ["batch 7", "night"]
    assert image_field_values(project, "field:site") == {a.pk: "north"}
    assert image_field_values(project, "field:age") == {a.pk: 30.0}
    # An image the file gives no label is imported with its metadata all the same.
    assert (b.origin, b.captured_at, b.camera) == ("scan", None, "")


@pytest.mark.parametrize(
    ("labels_format", "labels", "words"),
    [
        (
            "csv",
            b"file,label,captured_at\na.png,cat,soon\n",
            "line 2 (a.png): captured_at: 'soon' is not a date and time",
        ),
        (
            "csv",
            b"file,label,field:colour\na.png,cat,red\n",
            "line 2 (a.png): field:colour: the project has no field named 'colour'",
        ),
        ("csv", b"file,label,field:site\na.png,cat,west\n", "'west' is not one of"),
        ("csv", b"file,label,latitude\na.png,cat,48\n", "longitude is missing"),
        ("csv", b"file,label,age\na.png,cat,old\n", "line 2 (a.png): age: 'old' is not"),
        (
            "jsonl",
            b'{"file_name": "a.png", "gps": {"latitude": 95, "longitude": 0}}',
            "line 1 (a.png): gps.latitude: 95 is not between -90 and 90",
        ),
        (
            "coco",
            json.dumps(
                {
                    "images": [{"id": 1, "file_name": "a.png", "license": 9}],
                    "annotations": [],
                    "categories": [],
                }
            ).encode(),
            "Image 1: no licence with id 9",
        ),
    ],
)
def test_a_value_that_does_not_fit_refuses_the_import_before_any_file(
    api_as, lead, project, fields, labels_format, labels, words
):
    for dry_run in (True, False):  # the dry run says so too
        response = post(
            api_as(lead), project, labels_format, labels, images=("a.png",), dry_run=dry_run
        )
        assert response.status_code == 400, response.content
        assert words in response.json()["detail"]
        assert "labels_file" in response.json()["errors"]
    assert not Image.objects.filter(project=project).exists()


def test_a_batch_of_files_takes_its_metadata_from_the_folders_labels_file(
    api_as, lead, project, fields
):
    response = api_as(lead).post(
        f"/api/v1/projects/{project.pk}/imports/",
        {
            "files": [SimpleUploadedFile("a.png", image_bytes())],
            "labels_file": SimpleUploadedFile("labels.csv", CSV),
            "labels_format": "csv",
            "create_labels": True,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    image = Image.objects.get(project=project)
    assert (image.origin, image.captured_at) == ("Kaggle", TAKEN)
    assert image_field_values(project, "field:site") == {image.pk: "north"}


def test_a_project_that_keeps_no_position_takes_none_from_a_labels_file(
    api_as, lead, project, fields
):
    project.strip_metadata_on_ingest = True
    project.save()
    assert post(api_as(lead), project, "csv", CSV).status_code == 201
    image = Image.objects.get(project=project, original_name="a.png")
    assert (image.gps_latitude, image.origin) == (None, "Kaggle")


@pytest.mark.parametrize("no_date", [0, "0000-00-00 00:00:00"])
def test_a_coco_file_saying_no_capture_time_as_its_writer_does_imports(
    api_as, lead, project, no_date
):
    """CVAT and Datumaro write each image's date_captured as 0 (and a licence 0 with no
    name), other tools a date of zeros: no capture time, not a refusal of the import."""
    cvat = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "categories": [{"id": 1, "name": "cat", "supercategory": ""}],
        "images": [
            {
                "id": 1,
                "width": 32,
                "height": 24,
                "file_name": "a.png",
                "license": 0,
                "flickr_url": "",
                "coco_url": "",
                "date_captured": no_date,
            }
        ],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1}],
    }
    response = post(api_as(lead), project, "coco", json.dumps(cvat).encode(), images=("a.png",))
    assert response.status_code == 201, response.content
    image = Image.objects.get(project=project)
    assert (image.captured_at, image.licence) == (None, "")
    assert image.final_label.labels.get().name == "cat"
