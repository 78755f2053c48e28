"""Every format carries each image's origin and the project's own fields beside its other
metadata, its position only where the project keeps it in its exports; and an export
imported into a project with the same fields gives its images the same metadata back."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import image_field_values, project_fields
from labeler.images.catalogue.services import images_describe_each
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.factories import ProjectFactory, add_member
from tests.labeler.exports.data import finalise
from tests.labeler.exports.formats import export_bytes
from tests.labeler.imports.test_archive import run, zipped

pytestmark = pytest.mark.django_db

LATITUDE = "-33.8651"  # as the coordinate starts in any text
FIRST = {
    "captured_at": "2024-05-01T08:00:00Z",
    "gps": {"latitude": -33.8651, "longitude": 151.21},
    "origin": "https://example.org/set/1",
    "camera": "Canon EOS R6",
    "licence": "CC-BY-4.0",
    "tags": ["batch 7", "night"],
    "fields": {"site": "north", "age": 30.5, "visit": "2024-04-30", "note": "=1+1"},
}
SECOND = {"origin": "scan lab", "fields": {"site": "south"}}


def declare(project) -> None:
    field_create(project=project, name="site", kind="choice", choices=["north", "south"])
    field_create(project=project, name="age", kind="number")
    field_create(project=project, name="visit", kind="date")
    field_create(project=project, name="note", kind="text")


@pytest.fixture
def images(project, make_images):
    declare(project)
    first, second = make_images(project, 2)
    fields = project_fields(project)
    images_describe_each(
        project=project,
        changes=[
            (first.pk, description_read(FIRST, fields=fields)),
            (second.pk, description_read(SECOND, fields=fields)),
        ],
    )
    finalise(first, ["cat"])
    finalise(second, ["dog"])
    return first, second


def keep(project) -> None:
    project.export_keep_metadata = True
    project.save()


def member(data: bytes, suffix: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(suffix)]
        return archive.read(name)


def test_json_jsonl_coco_and_label_studio_carry_origin_and_fields(project, images):
    own = json.loads(export_bytes(project, format="json"))["images"][0]
    line = json.loads(export_bytes(project, format="jsonl").decode().splitlines()[0])
    coco = json.loads(export_bytes(project, format="coco"))["images"][0]
    task = json.loads(export_bytes(project, format="label-studio"))[0]["meta"]
    zipped_task = json.loads(member(export_bytes(project, format="label-studio-zip"), "tasks.json"))
    expected = {"age": 30.5, "note": "=1+1", "site": "north", "visit": "2024-04-30"}
    for image in (own, line, coco, task, zipped_task[0]["meta"]):
        assert image["origin"] == FIRST["origin"] and image["fields"] == expected
        assert image["camera"] == "Canon EOS R6" and image["tags"] == ["batch 7", "night"]
    assert coco["date_captured"] == "2024-05-01T08:00:00+00:00"


def test_csv_and_the_hugging_face_metadata_have_a_column_per_field(project, images):
    rows = list(csv.DictReader(io.StringIO(export_bytes(project, format="csv").decode())))
    assert (rows[0]["origin"], rows[0]["field:site"], rows[0]["field:age"]) == (
        FIRST["origin"],
        "north",
        "30.5",
    )
    assert rows[0]["field:note"] == "'=1+1"  # a formula is quoted for spreadsheets
    assert (rows[1]["field:site"], rows[1]["field:age"]) == ("south", "")
    hf = member(export_bytes(project, format="hf-imagefolder"), "metadata.csv").decode()
    first = next(csv.DictReader(io.StringIO(hf)))
    assert (first["origin"], first["site"], first["visit"], first["tags"]) == (
        FIRST["origin"],
        "north",
        "2024-04-30",
        "batch 7;night",
    )
    assert "latitude" not in first


FORMATS = ["json", "jsonl", "csv", "coco", "label-studio", "label-studio-zip", "hf-imagefolder"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_position_goes_out_only_where_the_project_keeps_it(project, images, fmt):
    def text() -> str:
        data = export_bytes(project, format=fmt)
        if fmt.endswith("-zip") or fmt == "hf-imagefolder":
            suffix = "tasks.json" if fmt.endswith("-zip") else "metadata.csv"
            data = member(data, suffix)
        return data.decode()

    assert LATITUDE not in text()
    keep(project)
    assert LATITUDE in text()


def metadata_of(project) -> list[tuple]:
    """Each image's metadata, in the order of its origin."""
    values = {
        key: image_field_values(project, key)
        for key in ("field:site", "field:age", "field:visit", "field:note", "tags")
    }
    return sorted(
        (
            image.origin,
            image.captured_at,
            image.camera,
            image.licence,
            image.gps_latitude,
            image.gps_longitude,
            *(values[key].get(image.pk) for key in sorted(values)),
        )
        for image in Image.objects.filter(project=project)
    )


@pytest.mark.parametrize(
    "fmt", ["jsonl", "json", "csv", "coco", "label-studio", "hf-imagefolder", "label-studio-zip"]
)
@pytest.mark.parametrize("positions", [False, True])
def test_an_export_imports_back_with_its_metadata(project, lead, images, fmt, positions):
    if positions:
        keep(project)
    exported = export_bytes(project, format=fmt)
    if fmt in ("hf-imagefolder", "label-studio-zip"):
        archive, labels_file = io.BytesIO(exported), None
    else:  # a labels file beside a zip of the images
        files = {image.original_name: image.file.read() for image in images}
        archive, labels_file = zipped(files), exported
    labels_format = {"hf-imagefolder": "csv", "label-studio-zip": "label-studio"}.get(fmt, fmt)
    twin = ProjectFactory(name="Twin", labels=["cat", "dog"])
    add_member(twin, lead, Role.LEAD)
    declare(twin)

    summary = run(twin, archive, labels_format, labels_file=labels_file)

    assert summary.created == 2 and summary.metadata_out == 2, summary.not_applied
    original = metadata_of(project)
    if not positions:  # the export had none to carry
        original = [(*row[:4], None, None, *row[6:]) for row in original]
    assert metadata_of(twin) == original
