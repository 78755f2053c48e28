"""A labelled dataset as one zip: ImageFolder, CSV, Label Studio and COCO labels, inside the
archive or beside it, each image's fate reported as the command line reports it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from labeler.annotations.models import Annotation, FinalLabel
from labeler.errors import ValidationFailed
from labeler.flows import images_import
from labeler.imports.planning.archive import archive_import_plan, archive_items
from labeler.imports.planning.plan import ImportOptions
from labeler.imports.reading.archive import ArchiveContents, archive_read
from labeler.imports.reading.matching import LabelMatcher, label_hashes
from labeler.imports.reading.records import AnnotationIn, ImageRecords, Person
from labeler.imports.reading.sources import LabelSourceError, coco_labels
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db


def zipped(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def run(project, archive, labels_format, labels_file=None, labels_as="final", user=None):
    contents = archive_read(archive, labels_format=labels_format, labels_file=labels_file)
    plan = archive_import_plan(
        project=project,
        archive=archive,
        contents=contents,
        options=ImportOptions(labels_as=labels_as),
    )
    return images_import(plan=plan, actor=user)


def finals(project) -> dict[str, list[str]]:
    return {
        f.image.source_key: sorted(f.labels.values_list("name", flat=True))
        for f in FinalLabel.objects.filter(image__project=project).select_related("image")
    }


def test_an_imagefolder_under_one_top_folder_with_splits_and_junk(project):
    archive = zipped(
        {
            "pets/train/cat/1.png": image_bytes(),
            "pets/val/dog/2.png": image_bytes(),
            "pets/README.txt": b"not an image, left out",
            "__MACOSX/pets/._1.png": b"resource fork",
            "pets/train/cat/broken.png": b"junk",
        }
    )
    summary = run(project, archive, "imagefolder")
    assert (summary.created, summary.rejected, summary.labels_applied) == (2, 2, 2)
    assert finals(project) == {"train/cat/1.png": ["cat"], "val/dog/2.png": ["dog"]}
    rejected = {r.name: r for r in summary.results if r.status == "rejected"}
    broken = rejected["pets/train/cat/broken.png".removeprefix("pets/")]
    assert broken.labels == "refused"
    assert rejected["pets/README.txt"].reason.startswith("Skipped: not an image file (.txt)")


def test_a_single_label_imagefolder_keeps_its_folder_as_the_label(project):
    summary = run(project, zipped({"cat/1.png": image_bytes()}), "imagefolder")
    assert summary.labels_applied == 1 and finals(project) == {"cat/1.png": ["cat"]}


def test_csv_inside_the_archive_and_unknown_labels_refused(project):
    archive = zipped(
        {
            "a.png": image_bytes(),
            "b.png": image_bytes(),
            "c.png": image_bytes(),
            "labels.csv": b"file,label\na.png,cat\nb.png,zebra\n",
        }
    )
    summary = run(project, archive, "csv")
    by_name = {r.name: r for r in summary.results}
    assert by_name["a.png"].labels == "applied"
    assert by_name["b.png"].labels == "refused" and "zebra" in by_name["b.png"].labels_reason
    assert by_name["c.png"].labels == "none"


def test_label_studio_export_sent_beside_the_archive(project, lead):
    tasks = [
        {
            "data": {"image": "/data/upload/3/1a2b3c4d-a.png"},
            "annotations": [{"result": [{"type": "choices", "value": {"choices": ["dog"]}}]}],
        }
    ]
    archive = zipped({"photos/a.png": image_bytes(), "photos/b.png": image_bytes()})
    summary = run(project, archive, "label-studio", json.dumps(tasks).encode(), user=lead)
    assert summary.labels_applied == 1
    # Each annotation is its person's (one nobody names gets an account of its own), and
    # no final label is made up from it.
    assert finals(project) == {}
    (annotation,) = Annotation.objects.filter(image__original_name="a.png")
    assert not annotation.annotator.is_active
    assert [n.name for n in annotation.labels.all()] == ["dog"]


def test_a_per_person_file_takes_no_labels_as(project, lead):
    tasks = [{"data": {"image": "a.png"}, "annotations": []}]
    archive = zipped({"a.png": image_bytes()})
    with pytest.raises(ValidationFailed, match="labels_as"):
        run(
            project,
            archive,
            "label-studio",
            json.dumps(tasks).encode(),
            labels_as="gold",
            user=lead,
        )


def test_coco_file_inside_the_archive(project):
    coco = {
        "images": [{"id": 7, "file_name": "x.png"}, {"id": 8, "file_name": "y.png"}],
        "categories": [{"id": 1, "name": "bird"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1},
            {"id": 2, "image_id": 8, "category_id": 1, "attributes": {"method": "annotation"}},
        ],
    }
    archive = zipped(
        {"x.png": image_bytes(), "y.png": image_bytes(), "coco.json": json.dumps(coco).encode()}
    )
    summary = run(project, archive, "coco")
    assert (summary.created, summary.labels_applied, summary.labels_none) == (2, 1, 1)
    assert finals(project) == {"x.png": ["bird"]}


@pytest.mark.parametrize(
    "files, labels_format, sent, message",
    [
        ({"a.txt": b"x"}, "none", None, "The archive holds no images"),
        ({"a.png": b"x"}, "csv", None, "The archive holds no .csv files"),
        ({"a.png": b"x", "1.json": b"[]", "2.json": b"[]"}, "coco", None, "holds 2 .json"),
        ({"a.png": b"x"}, "coco", b"{", "the labels file sent: line 1: Not valid JSON"),
        ({"a.png": b"x"}, "csv", b"name,label\n", "no file column"),
        ({"a.png": b"x"}, "csv", b"\xff\xfe", "not UTF-8"),
        ({"a.png": b"x"}, "yaml", None, "labels_format must be one of"),
    ],
)
def test_bad_archives_and_labels_are_refused_before_any_image(
    project, files, labels_format, sent, message
):
    with pytest.raises(ValidationFailed) as refused:
        archive_read(zipped(files), labels_format=labels_format, labels_file=sent)
    assert message in refused.value.message
    assert not project.images.exists()


def test_a_file_that_is_no_zip_is_refused():
    with pytest.raises(ValidationFailed, match="Not a readable zip archive"):
        archive_read(io.BytesIO(b"plain text"), labels_format="none")


def test_coco_labels_name_what_is_wrong():
    with pytest.raises(LabelSourceError, match="needs a list 'images'"):
        coco_labels({"annotations": []})
    with pytest.raises(LabelSourceError, match="no category with id 9"):
        coco_labels(
            {
                "images": [{"id": 1, "file_name": "a.png"}],
                "categories": [],
                "annotations": [{"image_id": 1, "category_id": 9}],
            }
        )


def test_heic_and_avif_photos_are_imported_and_other_files_reported_skipped(project, media_root):
    """Phones' formats are images like any other; a file that is no image is reported
    with the reason it was skipped, never left out in silence."""
    archive = zipped(
        {
            "cat/a.heic": image_bytes("HEIF"),
            "cat/b.avif": image_bytes("AVIF"),
            "cat/notes.pdf": b"%PDF-1.4",
        }
    )
    summary = run(project, archive, "imagefolder")
    assert (summary.created, summary.labels_applied) == (2, 2)
    (skipped,) = [r for r in summary.results if r.status == "rejected"]
    assert skipped.name == "cat/notes.pdf"
    assert skipped.reason.startswith("Skipped: not an image file (.pdf); images are ")
    assert ".avif" in skipped.reason and ".heic" in skipped.reason


def test_a_file_without_an_entry_says_why_it_has_no_labels(project):
    archive = zipped(
        {
            "a.png": image_bytes(),
            "IMG-0002.png": image_bytes(),
            "labels.csv": b"file,label\na.png,cat\nimg_0002.jpg,dog\ngone.png,cat\n",
        }
    )
    summary = run(project, archive, "csv")
    unlisted = next(r for r in summary.results if r.name == "IMG-0002.png")
    assert (unlisted.labels, unlisted.labels_reason) == (
        "none",
        "No entry of the labels file names this file; the nearest is 'img_0002.jpg' (the "
        "same name but for case, accents, punctuation or extension).",
    )
    top = run(project, zipped({"cat/1.png": image_bytes(), "2.png": image_bytes()}), "imagefolder")
    assert [r.labels_reason for r in top.results if r.name == "2.png"] == [
        "No label's folder holds this file."
    ]


def test_an_image_is_hashed_as_read_to_find_its_entry_by_content(project):
    """Labels that carry each image's sha256 find a renamed image by its content, hashed
    from the bytes the import reads anyway."""
    cat = image_bytes(seed=1)
    records = ImageRecords(
        [AnnotationIn(Person("ls:1"), ["cat"])], sha256=hashlib.sha256(cat).hexdigest()
    )
    other = ImageRecords([AnnotationIn(Person("ls:1"), ["dog"])])
    labels = {"exported/cat.png": records, "exported/dog.png": other}
    archive = zipped({"renamed.png": cat, "stranger.png": image_bytes(seed=2)})
    names = {"renamed.png": "renamed.png", "stranger.png": "stranger.png"}
    matcher = LabelMatcher(labels, files=names.values(), hashes=label_hashes(labels))
    contents = ArchiveContents(names, matcher, labels_file="labels.json")

    items = {item.name: item for item in archive_items(archive, contents)}

    assert items["renamed.png"].labels is records
    assert items["stranger.png"].labels is None
    assert "or carries its content" in items["stranger.png"].no_labels
    assert matcher.unmatched() == ["exported/dog.png"]


def test_a_fiftyone_dataset_finds_its_images_named_without_extensions(project, lead):
    labels = {"classes": ["cat", "dog"], "labels": {"0a1b": 0, "2c3d": "dog", "9z9z": 1}}
    archive = zipped(
        {
            "ds/data/0a1b.jpg": image_bytes("JPEG"),
            "ds/data/2c3d.png": image_bytes(),
            "ds/labels.json": json.dumps(labels).encode(),
        }
    )
    summary = run(project, archive, "fiftyone", user=lead)

    assert finals(project) == {"data/0a1b.jpg": ["cat"], "data/2c3d.png": ["dog"]}
    assert [n.record for n in summary.not_applied] == ["9z9z"]
