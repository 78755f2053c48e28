"""Every format, read back by the libraries that consume it."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from labeler.exports.formats import EXPORTERS
from labeler.exports.formats.members import folder_names, safe_file_name
from tests.factories import ModelVersionFactory, predict
from tests.labeler.exports.data import annotate, finalise, uploaded
from tests.labeler.exports.formats import export_bytes, extract
from tests.labeler.images import samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project, make_images, annotator, annotator2):
    """Three images: a cat both agree on, a dog they do not, one nobody labelled."""
    images = make_images(project, 3)
    annotate(images[0], annotator, ["cat"])
    annotate(images[0], annotator2, ["cat"])
    annotate(images[1], annotator, ["dog"])
    annotate(images[1], annotator2, ["cat"])
    finalise(images[0], ["cat"], confidence=1.0)
    finalise(images[1], ["dog"], method="adjudicated", confidence=None)
    return images


def test_the_registry_names_content_type_and_extension():
    assert EXPORTERS["jsonl"].content_type == "application/x-ndjson"
    assert EXPORTERS["imagefolder"].extension == "imagefolder.zip"


def test_json_keeps_its_shape_and_adds_split_and_prediction_when_asked(project, images):
    version = ModelVersionFactory(project=project)
    predict(version, images[0], {str(project.labels.get(name="cat").pk): 0.9})
    document = json.loads(export_bytes(project, split="0.5,0.5", predictions=True))
    assert [label["name"] for label in document["labels"]] == ["cat", "dog", "bird"]
    first = document["images"][0]
    assert [a["labels"] for a in first["annotations"]] == [["cat"], ["cat"]]
    assert first["final_labels"] == ["cat"] and first["split"] in ("train", "val")
    assert first["prediction"]["probabilities"] == {"cat": 0.9}
    final_only = json.loads(export_bytes(project, annotations="final"))["images"]
    assert len(final_only) == 2 and "annotations" not in final_only[0]


def test_jsonl_holds_one_image_a_line(project, images):
    lines = export_bytes(project, format="jsonl").decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [image.pk for image in images]


def test_csv_has_a_row_per_annotation_or_per_image_when_final(project, images):
    rows = list(csv.DictReader(io.StringIO(export_bytes(project, format="csv").decode())))
    assert len(rows) == 5  # 2 + 2 annotations, 1 unlabelled image
    assert rows[2]["annotator"] == "ann1" and rows[2]["final_labels"] == "dog"
    final = export_bytes(project, format="csv", annotations="final", split="0.5,0.5")
    rows = list(csv.DictReader(io.StringIO(final.decode())))
    assert len(rows) == 2 and "annotator" not in rows[0] and rows[0]["split"]


def test_coco_loads_with_pycocotools(project, images, tmp_path):
    coco_module = pytest.importorskip("pycocotools.coco")
    path = tmp_path / "coco.json"
    path.write_bytes(export_bytes(project, format="coco", split="0.5,0.5"))
    coco = coco_module.COCO(str(path))
    cat = project.labels.get(name="cat").pk
    assert sorted(coco.getImgIds()) == [image.pk for image in images[:2]]  # final labels only
    assert coco.getImgIds(catIds=[cat]) == [images[0].pk]
    (annotation,) = coco.loadAnns(coco.getAnnIds(imgIds=[images[1].pk]))
    assert annotation["attributes"] == {"method": "adjudicated", "confidence": None}
    assert coco.loadImgs(images[0].pk)[0]["split"] in ("train", "val")
    everything = json.loads(export_bytes(project, format="coco", annotations="all"))
    raw = [a for a in everything["annotations"] if a["attributes"]["method"] == "annotation"]
    assert len(raw) == 4 and raw[0]["attributes"]["annotator"] == "ann1"
    assert len({a["id"] for a in everything["annotations"]}) == 6


def test_label_studio_tasks_carry_choices_and_predictions(project, images):
    version = ModelVersionFactory(project=project)
    predict(version, images[2], {str(project.labels.get(name="bird").pk): 0.7})
    tasks = json.loads(
        export_bytes(project, format="label-studio", predictions=True, image_urls="api")
    )
    assert [task["id"] for task in tasks] == [image.pk for image in images]
    first = tasks[0]
    assert first["data"]["image"].endswith(
        f"/api/v1/projects/{project.pk}/images/{images[0].pk}/file/"
    )
    result = first["annotations"][0]["result"][0]
    assert result == {
        "from_name": "label",
        "to_name": "image",
        "type": "choices",
        "value": {"choices": ["cat"]},
    }
    assert tasks[2]["predictions"][0]["result"][0]["value"]["choices"] == ["bird"]
    final = json.loads(export_bytes(project, format="label-studio", annotations="final"))
    assert [len(task["annotations"]) for task in final] == [1, 1]


def test_imagefolder_zip_holds_label_folders_with_safe_unique_names(project, images):
    data = export_bytes(project, format="imagefolder")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [name for name in archive.namelist() if name.endswith(".png")]
        assert all(archive.getinfo(name).compress_type == zipfile.ZIP_STORED for name in names)
        assert archive.read(names[0]) == images[0].file.open("rb").read()
    assert names == [
        f"cat/{images[0].pk}-img0.png",
        f"dog/{images[1].pk}-img1.png",
    ]
    split = export_bytes(project, format="imagefolder", split="0.5,0.5")
    with zipfile.ZipFile(io.BytesIO(split)) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} <= {"train", "val"}


def test_a_multi_label_image_goes_into_each_labels_folder(project, make_images):
    project.multi_label = True
    project.save()
    (image,) = make_images(project, 1)
    finalise(image, ["cat", "dog"])
    with zipfile.ZipFile(io.BytesIO(export_bytes(project, format="imagefolder"))) as archive:
        placed = [name.split("/")[0] for name in archive.namelist() if name.endswith(".png")]
    assert sorted(placed) == ["cat", "dog"]


def test_names_never_escape_their_folder():
    assert safe_file_name(7, "../../etc/passwd", "PNG") == "7-passwd.png"
    assert safe_file_name(8, "C:\\x\\..\\évil name?.jpeg", "JPEG") == "8-évil_name.jpg"
    assert safe_file_name(9, "...", "GIF") == "9-image.gif"
    assert folder_names(["../up", "a/b", "a_b", ".."]) == {
        "../up": "up",
        "a/b": "a_b",
        "a_b": "a_b-2",
        "..": "label",
    }


def test_hf_imagefolder_loads_with_datasets_one_class_list_for_every_split(
    project, make_images, tmp_path, monkeypatch
):
    """Split 90/0/10, val holds no image and test one: cast with the export's
    classes.txt, every split numbers the labels alike; the HEIC and the AVIF are rows
    (JPEGs now) like the rest."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    datasets = pytest.importorskip("datasets")
    project.labels.create(name="sea/lake", color="#123456", position=3)
    photos = {
        "IMG_1.heic": samples.photo("HEIF", (32, 24)),
        "IMG_2.avif": samples.photo("AVIF", (32, 24)),
    }
    images = make_images(project, 8) + uploaded(project, photos)
    expected = dict(
        zip([i.pk for i in images], ["cat"] * 6 + ["dog"] * 2 + ["bird"] * 2, strict=True)
    )
    for image in images:
        finalise(image, [expected[image.pk]])
    data = export_bytes(project, format="hf-imagefolder", split="0.9,0,0.1")
    folder = extract(data, tmp_path / "hf")

    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(folder), cache_dir=str(tmp_path / "cache")
    )
    classes = datasets.ClassLabel(names_file=str(folder / "classes.txt"))
    loaded = loaded.cast_column("label", classes)

    assert classes.names == ["bird", "cat", "dog", "sea/lake"] and set(loaded) == {"train", "test"}
    seen = {}
    for split in loaded.values():
        assert split.features["label"] == classes
        for row in split:
            seen[row["image_id"]] = classes.int2str(row["label"])
            assert row["image"].size == (32, 24)
    assert seen == expected


def test_hf_imagefolder_splits_and_joins_multi_labels(project, make_images, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    project.multi_label = True
    project.save()
    images = make_images(project, 6)
    for image in images:
        finalise(image, ["cat", "dog"] if image.pk % 2 else ["bird"])
    data = export_bytes(project, format="hf-imagefolder", split="0.5,0.5")
    folder = extract(data, tmp_path / "hf")
    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(folder), cache_dir=str(tmp_path / "cache")
    )
    assert set(loaded) == {"train", "validation"}
    labels = {
        image_id: row_labels.split(";")
        for split in loaded.values()
        for image_id, row_labels in zip(split["image_id"], split["labels"], strict=True)
    }
    assert labels == {i.pk: ["cat", "dog"] if i.pk % 2 else ["bird"] for i in images}
