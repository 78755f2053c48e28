"""split=project: every format's splits are the project's own train, validation and test
images, stored first, as its training and its held-out test set use them."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from labeler.errors import ValidationFailed
from labeler.exports.options import export_options_parse
from labeler.images.models import Image
from labeler.predictions.models import SplitAssignment
from labeler.predictions.selectors import project_splits
from labeler.predictions.test_split import test_split_assign
from tests.conftest import client_for
from tests.labeler.exports.data import finalise
from tests.labeler.exports.formats import export_bytes, extract

pytestmark = pytest.mark.django_db

NAMES = {"train": "train", "validation": "val", "test": "test"}


@pytest.fixture
def split_project(project, make_images):
    """Thirty labelled images, a fifth of them held out for testing."""
    project.test_share = 0.2
    project.save()
    for image, name in zip(make_images(project, 30), ["cat", "dog", "bird"] * 10, strict=True):
        finalise(image, [name])
    return project


def expected_parts(project) -> dict[int, str]:
    return {image_id: NAMES[part] for image_id, part in project_splits(project).items()}


def test_the_option_reads_project_and_says_so_in_a_refusal():
    options = export_options_parse({"format": "csv", "split": "project"})
    assert options.split_by_project and options.split_names == ("train", "val", "test")
    assert export_options_parse(options.as_dict()) == options
    with pytest.raises(ValidationFailed, match="or project: the project's own") as refusal:
        export_options_parse({"split": "projects"})
    assert refusal.value.field == "split"


def test_the_text_formats_carry_each_images_part(split_project):
    document = json.loads(export_bytes(split_project, format="json", split="project"))

    parts = expected_parts(split_project)
    assert {image["id"]: image["split"] for image in document["images"]} == parts
    assert set(parts.values()) == {"train", "val", "test"}
    rows = csv.DictReader(
        io.StringIO(export_bytes(split_project, format="csv", split="project").decode())
    )
    assert {int(row["image_id"]): row["split"] for row in rows} == parts
    coco = json.loads(export_bytes(split_project, format="coco", split="project"))
    assert {image["id"]: image["split"] for image in coco["images"]} == parts


def test_the_archives_place_every_image_in_its_part(split_project, tmp_path):
    parts = expected_parts(split_project)
    data = export_bytes(split_project, format="imagefolder", split="project")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        placed = {
            int(name.rsplit("/", 1)[1].split("-", 1)[0]): name.split("/")[0]
            for name in archive.namelist()
            if name.endswith(".png")
        }
        assert all(archive.read(f"{part}/classes.txt") for part in ("train", "val", "test"))
    assert placed == parts

    folder = extract(
        export_bytes(split_project, format="hf-imagefolder", split="project"), tmp_path
    )
    for part in ("train", "val", "test"):
        rows = csv.DictReader((folder / part / "metadata.csv").open())
        assert {int(row["image_id"]) for row in rows} == {i for i, p in parts.items() if p == part}


def test_a_test_image_stays_in_test_as_the_project_grows(split_project, make_images):
    test_split_assign(project=split_project)  # as every export asks it first
    before = expected_parts(split_project)
    for image in make_images(split_project, 6):
        finalise(image, ["cat"])

    document = json.loads(export_bytes(split_project, format="json", split="project"))

    after = {image["id"]: image["split"] for image in document["images"]}
    assert {i for i, p in before.items() if p == "test"} <= {
        i for i, p in after.items() if p == "test"
    }
    assert after == expected_parts(split_project)


def test_an_image_the_training_leaves_out_is_in_no_split_folder(split_project):
    """A near-duplicate of a test image, grouped after both were assigned, is kept from
    training: no split folder holds it, and the text formats give it no part."""
    sides = test_split_assign(project=split_project)
    test_image = next(i for i, side in sides.items() if side == "test")
    copy = next(i for i, side in sides.items() if side != "test")
    Image.objects.filter(pk__in=[test_image, copy]).update(duplicate_group=test_image)

    data = export_bytes(split_project, format="imagefolder", split="project")

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        placed = [name for name in archive.namelist() if name.endswith(".png")]
    assert len(placed) == 29 and not [name for name in placed if f"/{copy}-" in name]
    document = json.loads(export_bytes(split_project, format="json", split="project"))
    assert {image["id"]: image["split"] for image in document["images"]}[copy] is None


def test_a_direct_download_and_a_background_export_store_the_sides_first(split_project, lead):
    """The sides are stored before the file is written, as a training stores them, so
    the images the export calls test stay the ones the project's models are scored on."""
    client = client_for(lead)
    url = f"/api/v1/projects/{split_project.pk}/export/"
    assert not SplitAssignment.objects.filter(project=split_project).exists()
    response = client.get(url, {"format": "csv", "split": "project"})
    assert response.status_code == 200
    stored = dict(
        SplitAssignment.objects.filter(project=split_project).values_list("image_id", "side")
    )
    assert len(stored) == 30
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert {int(row["image_id"]) for row in rows if row["split"] == "test"} == {
        image_id for image_id, side in stored.items() if side == "test"
    }
    assert client.get(url, {"split": "own"}).json()["errors"].keys() == {"split"}
    started = client.post(
        f"/api/v1/projects/{split_project.pk}/exports/",
        {"format": "imagefolder", "split": "project"},
        format="json",
    )
    assert started.status_code == 202 and started.json()["options"]["split"] == "project"
