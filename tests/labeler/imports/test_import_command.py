"""manage.py import_images: a folder with labels from its folders, a CSV file or Label Studio."""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from labeler.annotations.models import Annotation, FinalLabel
from labeler.images.models import Image
from labeler.imports.management.commands import import_images as import_images_command
from labeler.imports.reading.matching import LabelMatcher
from tests.factories import image_bytes


def write(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes() if not name.endswith(".txt") else b"notes")


def import_images(project, folder: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_images", str(project.pk), str(folder), *args, stdout=out)
    return out.getvalue()


def annotated(project) -> dict[str, list[str]]:
    """Each image's annotations' labels, by its name (one annotation an image here)."""
    return {
        a.image.original_name: sorted(a.labels.values_list("name", flat=True))
        for a in Annotation.objects.filter(image__project=project).select_related("image")
    }


def finals(project) -> dict[str, list[str]]:
    return {
        final.image.original_name: sorted(final.labels.values_list("name", flat=True))
        for final in FinalLabel.objects.filter(image__project=project).select_related("image")
    }


@pytest.mark.django_db
def test_imagefolder_export_layout_is_imported_with_its_labels(project, tmp_path, media_root):
    folder = tmp_path / "data"
    write(folder, "train/cat/a.png", "train/dog/b.png", "val/cat/c.png", "train/notes.txt")

    out = import_images(project, folder, "--layout", "imagefolder")

    assert finals(project) == {"a.png": ["cat"], "b.png": ["dog"], "c.png": ["cat"]}
    assert "created   train/cat/a.png (image" in out and "labels applied (cat)" in out
    assert out.strip().endswith(
        "3 created, 0 duplicates, 0 rejected; labels: 3 applied, 0 refused, 0 without labels."
    )
    again = import_images(project, folder, "--layout", "imagefolder")
    assert "0 created, 3 duplicates" in again and Image.objects.count() == 3


@pytest.mark.django_db
def test_csv_labels_as_annotations_with_a_bad_file_and_an_unknown_label(
    project, tmp_path, media_root
):
    folder = tmp_path / "photos"
    write(folder, "a.png", "sub/b.png", "c.png", "unlisted.png")
    (folder / "broken.png").write_bytes(b"not an image")
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,label\na.png,cat\nsub/b.png,fox\nc.png,dog\nbroken.png,cat\n")

    out = import_images(
        project, folder, "--labels-csv", str(labels), "--labels-as", "annotation",
        "--annotator", "vendor_2023",
    )  # fmt: skip

    assert "rejected  broken.png" in out and "labels refused: The file was not stored." in out
    assert "Unknown label 'fox'" in out
    assert "4 created, 0 duplicates, 1 rejected; labels: 2 applied, 2 refused, 1 without" in out
    annotations = Annotation.objects.filter(annotator__username="vendor_2023")
    assert sorted(a.image.original_name for a in annotations) == ["a.png", "c.png"]


@pytest.mark.django_db
def test_label_studio_export_with_created_labels_and_an_ambiguous_name(
    project, lead, tmp_path, media_root
):
    folder = tmp_path / "ls"
    write(folder, "cat.png", "one/x.png", "two/x.png")
    export = tmp_path / "export.json"
    tasks = [
        {
            "data": {"image": f"/data/upload/1/{name}"},
            "annotations": [{"result": [{"type": "choices", "value": {"choices": [label]}}]}],
        }
        for name, label in (("0a1b2c3d-cat.png", "Lynx"), ("x.png", "dog"))
    ]
    export.write_text(json.dumps(tasks))

    out = import_images(
        project, folder, "--label-studio", str(export), "--create-labels", "--user", "lead"
    )

    # Label Studio names who labelled what: the labels are annotations of that person
    # (here one the export does not name), not final labels.
    assert annotated(project) == {"cat.png": ["Lynx"]} and not FinalLabel.objects.exists()
    assert out.count("Ambiguous file name 'x.png'") == 4  # each file's line, and listed
    assert "Labels created: Lynx." in out
    assert "Not applied: 3\n  one/x.png: Ambiguous file name 'x.png'" in out
    assert "  x.png: No imported file matched this entry of the labels file." in out


@pytest.mark.django_db
def test_quiet_run_prints_the_summary_only(project, tmp_path, media_root):
    write(tmp_path / "flat", "a.png", "deeper/b.png")

    out = io.StringIO()
    call_command(
        "import_images", str(project.pk), str(tmp_path / "flat"), "--no-recursive",
        verbosity=0, stdout=out,
    )  # fmt: skip

    assert out.getvalue().splitlines() == [
        "In:  1 file; no labels",
        "Out: 1 image (1 new), 0 annotations (0 written), 0 decisions (0 written), 0 labels",
        "Not applied: 0",
        "1 created, 0 duplicates, 0 rejected; labels: 0 applied, 0 refused, 1 without labels.",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999", "{folder}"], "Project 999999 does not exist."),
        (["{project}", "{folder}/missing"], "is not a folder"),
        (["{project}", "{folder}", "--labels-csv", "{folder}/none.csv"], "Cannot read"),
        (["{project}", "{folder}", "--labels-csv", "{folder}/bad.csv"], "line 1: The header"),
        (["{project}", "{folder}", "--label-studio", "{folder}/bad.csv"], "Not valid JSON"),
        (["{project}", "{folder}", "--labels-as", "gold"], "name the user"),
        (["{project}", "{folder}", "--user", "nobody"], "No user named 'nobody'"),
        (["{project}", "{folder}", "--annotator", "x"], "only with labels_as=annotation"),
    ],
)
def test_bad_arguments_stop_with_a_clear_message(project, tmp_path, media_root, args, message):
    write(tmp_path, "a.png")
    (tmp_path / "bad.csv").write_text("name,class\na.png,cat\n")
    values = {"folder": str(tmp_path), "project": str(project.pk)}

    with pytest.raises(CommandError, match=message):
        call_command("import_images", *(a.format(**values) for a in args), stdout=io.StringIO())
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_an_import_from_the_command_line_gets_its_follow_ups(
    project, tmp_path, media_root, django_capture_on_commit_callbacks
):
    # Thumbnails made and final labels refreshed, as an import over REST gets them.
    folder = tmp_path / "data"
    write(folder, "a.png", "b.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,label\na.png,cat\nb.png,cat\n")
    project.overlap = 1
    project.save(update_fields=["overlap"])

    with django_capture_on_commit_callbacks(execute=True):
        import_images(
            project, folder, "--labels-csv", str(labels), "--labels-as", "annotation",
        )  # fmt: skip

    images = Image.objects.filter(project=project)
    assert images.count() == 2 and all(image.thumbnail for image in images)
    # overlap 1: each image's one annotation is its consensus final label after the refresh
    assert finals(project) == {"a.png": ["cat"], "b.png": ["cat"]}


@pytest.mark.django_db
def test_originals_match_label_studio_s_renamed_uploads_and_the_rest_say_why(
    project, tmp_path, media_root
):
    folder = tmp_path / "originals"
    write(folder, "trip/holiday photo 4.png", unicodedata.normalize("NFD", "Été-5.png"), "x.png")
    export = tmp_path / "export.json"
    tasks = [
        {
            "data": {"image": f"/data/upload/1/{quote(name)}"},
            "annotations": [{"result": [{"type": "choices", "value": {"choices": ["cat"]}}]}],
        }
        for name in ("1a2b3c4d-holiday_photo_4.png", "9f8e7d6c-Été-5.png")
    ]
    export.write_text(json.dumps(tasks))

    out = import_images(project, folder, "--label-studio", str(export))

    assert sorted(annotated(project).values()) == [["cat"], ["cat"]]
    assert "created   x.png (image" in out
    assert "labels none: No entry of the labels file names this file." in out
    assert "labels: 2 applied, 0 refused, 1 without labels." in out


@pytest.mark.django_db
def test_files_are_hashed_as_read_only_when_the_labels_carry_hashes(tmp_path):
    write(tmp_path, "renamed.png", "other.png")
    files = [tmp_path / "renamed.png", tmp_path / "other.png"]
    content = hashlib.sha256((tmp_path / "renamed.png").read_bytes()).hexdigest()
    labels = {"exported.png": ["cat"]}

    hashed = LabelMatcher(labels, hashes={"exported.png": content})
    items = list(import_images_command._items(tmp_path, files, hashed, from_folders=False))
    assert [item.labels for item in items] == [["cat"], None]
    assert items[1].no_labels.startswith("No entry of the labels file names this file or")
    plain = list(import_images_command._items(tmp_path, files, LabelMatcher(labels), False))
    assert [item.labels for item in plain] == [None, None]


PEOPLE_CSV = "file,ann1,zoe@x.org\na.png,cat,dog\nsub/b.png,dog,\nghost.png,cat,\n"


@pytest.mark.django_db
def test_a_file_naming_its_annotators_credits_each_and_reports_what_was_not_applied(
    project, annotator2, tmp_path, media_root
):
    """Each person's labels go to the account the lead chose (or the one matched), and
    the counts and every record not applied are printed even at verbosity 0."""
    write(tmp_path / "data", "a.png", "sub/b.png")
    labels = tmp_path / "people.csv"
    labels.write_text(PEOPLE_CSV)
    chosen = tmp_path / "annotators.json"
    chosen.write_text(json.dumps({"zoe@x.org": annotator2.username}))
    out = io.StringIO()
    call_command(
        "import_images", str(project.pk), str(tmp_path / "data"), "--labels-file", str(labels),
        "--labels-format", "csv-annotators", "--annotators", str(chosen), verbosity=0, stdout=out,
    )  # fmt: skip

    credited = Annotation.objects.values_list("image__original_name", "annotator__username")
    assert sorted(credited) == [("a.png", "ann1"), ("a.png", "ann2"), ("b.png", "ann1")]
    assert out.getvalue().splitlines() == [
        "People: 2",
        "  ann1 -> ann1 (a member, by username)",
        "  zoe@x.org -> ann2 (chosen)",
        "In:  2 files; labels: 3 records, 4 annotations, 0 decisions, 4 labels",
        "Out: 2 images (2 new), 3 annotations (3 written), 0 decisions (0 written), 3 labels",
        "Not applied: 1",
        "  ghost.png: No imported file matched this entry of the labels file.",
        "2 created, 0 duplicates, 0 rejected; labels: 2 applied, 0 refused, 0 without labels.",
    ]


@pytest.mark.django_db
def test_a_dry_run_prints_the_people_counts_and_unmatched_entries_and_writes_nothing(
    project, tmp_path, media_root
):
    write(tmp_path / "data", "a.png", "sub/b.png")
    labels = tmp_path / "people.csv"
    labels.write_text(PEOPLE_CSV)
    users = User.objects.count()

    out = import_images(
        project, tmp_path / "data", "--labels-file", str(labels), "--labels-format",
        "csv-annotators", "--dry-run",
    )  # fmt: skip

    assert out.splitlines() == [
        "People: 2",
        "  ann1 -> ann1 (a member, by username)",
        "  zoe@x.org -> zoe@x.org (a new inactive account)",
        "In:  2 files; labels: 3 records, 4 annotations, 0 decisions, 4 labels",
        "Not applied: 1",
        "  ghost.png: No imported file matches this entry of the labels file.",
        "Dry run: nothing was written.",
    ]
    assert not Image.objects.exists() and User.objects.count() == users


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "Not JSON that can be read"),
        ('["ann1"]', "A JSON object of text to text"),
        ('{"nobody": "ann1"}', "annotators: The file names no person 'nobody'"),
        ('{"ann1": "stranger"}', "annotators: No active member of this project"),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_bad_choice_of_accounts_stops_before_anything_is_written(
    project, tmp_path, media_root, content, words, dry_run
):
    write(tmp_path / "data", "a.png")
    labels = tmp_path / "people.csv"
    labels.write_text(PEOPLE_CSV)
    chosen = tmp_path / "annotators.json"
    chosen.write_text(content)
    args = ["--labels-file", str(labels), "--labels-format", "csv-annotators"]
    args += ["--annotators", str(chosen)] + (["--dry-run"] if dry_run else [])
    with pytest.raises(CommandError, match=re.escape(words)):
        import_images(project, tmp_path / "data", *args)
    assert not Image.objects.exists() and not Annotation.objects.exists()
