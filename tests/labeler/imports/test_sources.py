"""Label sources read folders, CSV files and Label Studio exports without Django."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labeler.imports.reading.sources import (
    LabelMatcher,
    LabelSourceError,
    csv_labels,
    folder_files,
    imagefolder_labels,
    label_studio_labels,
)


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def relative(root: Path, paths: list[Path]) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_folder_files_are_images_by_extension_sorted_without_hidden_ones(tmp_path):
    touch(tmp_path, "b.PNG", "a.jpg", "notes.txt", ".hidden.jpg", "sub/c.webp", ".git/d.png")
    touch(tmp_path, "sub/deeper/e.TIFF", "f.jpeg", "g.gif", "h.bmp", "i.tif")

    assert relative(tmp_path, folder_files(tmp_path)) == [
        "a.jpg", "b.PNG", "f.jpeg", "g.gif", "h.bmp", "i.tif", "sub/c.webp", "sub/deeper/e.TIFF",
    ]  # fmt: skip
    assert relative(tmp_path, folder_files(tmp_path, recursive=False)) == [
        "a.jpg", "b.PNG", "f.jpeg", "g.gif", "h.bmp", "i.tif",
    ]  # fmt: skip


def test_folder_files_of_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(LabelSourceError, match="is not a folder"):
        folder_files(tmp_path / "missing")


def test_imagefolder_labels_are_the_top_level_folders(tmp_path):
    touch(tmp_path, "cat/a.jpg", "dog/b.png", "dog/more/c.png", "loose.jpg", "cat/readme.txt")

    assert imagefolder_labels(tmp_path) == {
        "cat/a.jpg": ["cat"],
        "dog/b.png": ["dog"],
        "dog/more/c.png": ["dog"],
    }


def test_imagefolder_under_split_folders_takes_the_second_level(tmp_path):
    """The layout our export writes: root/<split>/<label>/<file>."""
    touch(tmp_path, "train/cat/a.jpg", "train/dog/b.jpg", "Val/cat/c.jpg", "test/d.jpg")

    assert imagefolder_labels(tmp_path) == {
        "train/cat/a.jpg": ["cat"],
        "train/dog/b.jpg": ["dog"],
        "Val/cat/c.jpg": ["cat"],
    }


def test_a_label_folder_among_split_names_means_no_splits(tmp_path):
    touch(tmp_path, "train/a.jpg", "cat/b.jpg")

    assert imagefolder_labels(tmp_path) == {"train/a.jpg": ["train"], "cat/b.jpg": ["cat"]}


def test_csv_labels_from_text_with_any_file_column_and_several_labels():
    text = "Image,Labels,notes\nphotos\\a.jpg,cat;dog,x\n./b.jpg, bird | cat ,\nc.jpg,,\n\n"

    assert csv_labels(text) == {
        "photos/a.jpg": ["cat", "dog"],
        "b.jpg": ["bird", "cat"],
        "c.jpg": [],
    }


def test_csv_file_with_bom_and_a_file_on_several_rows(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("\ufefffile_name,label\na.jpg,cat\na.jpg,dog\na.jpg,cat\n", encoding="utf-8")

    assert csv_labels(path) == {"a.jpg": ["cat", "dog"]}
    assert csv_labels(str(path)) == {"a.jpg": ["cat", "dog"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,label\na.jpg,cat\n", "line 1: The header has no file column"),
        ("file,class\na.jpg,cat\n", "line 1: The header has no label column"),
        ("path,label\na.jpg,cat\n ,dog\n", "line 3: The file name is empty"),
        ('file,label\n"a.jpg,cat\n', "line 2: a quoted cell is never closed"),
    ],
)
def test_bad_csv_names_the_line(text, message):
    with pytest.raises(LabelSourceError, match=message) as caught:
        csv_labels(text)
    assert isinstance(caught.value, ValueError)


def test_unreadable_csv_file_is_a_clear_error(tmp_path):
    with pytest.raises(LabelSourceError, match="Cannot read"):
        csv_labels(tmp_path / "missing.csv")
    (tmp_path / "latin.csv").write_bytes(b"file,label\n\xe9t\xe9.jpg,cat\n")
    with pytest.raises(LabelSourceError, match="not UTF-8"):
        csv_labels(tmp_path / "latin.csv")


def annotation(choices: list[str], *, updated: str, cancelled: bool = False) -> dict:
    return {
        "updated_at": updated,
        "was_cancelled": cancelled,
        "result": [{"type": "choices", "from_name": "c", "value": {"choices": choices}}],
    }


LABEL_STUDIO = [
    {
        "data": {"image": "/data/upload/3/1a2b3c4d-cat.jpg"},
        "annotations": [
            annotation(["dog"], updated="2024-01-01T10:00:00Z"),
            annotation(["cat"], updated="2024-01-02T10:00:00Z"),
            annotation(["bird"], updated="2024-01-03T10:00:00Z", cancelled=True),
        ],
    },
    {
        "data": {"image": "s3://bucket/photos/dog%20two.png?X-Amz=1"},
        "annotations": [annotation(["dog", "cat"], updated="2024-01-01T10:00:00Z")],
    },
    {
        "data": {"image": "/data/local-files/?d=photos/local.jpg"},
        "annotations": [annotation(["bird"], updated="2024-01-01T10:00:00Z")],
    },
    {"data": {"image": "/data/upload/3/none.jpg"}, "annotations": []},
    {
        "data": {"image": "/data/upload/3/rect.jpg"},
        "annotations": [{"result": [{"type": "rectanglelabels", "value": {"x": 1}}]}],
    },
]


def test_label_studio_takes_the_latest_annotation_that_was_not_cancelled(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(LABEL_STUDIO))

    expected = {
        "1a2b3c4d-cat.jpg": ["cat"],
        "photos/dog two.png": ["dog", "cat"],
        "photos/local.jpg": ["bird"],
    }
    assert label_studio_labels(path) == expected
    assert label_studio_labels(LABEL_STUDIO) == expected


def test_label_studio_prefers_the_file_name_our_export_writes_beside_the_url():
    task = {
        "data": {"image": "http://host/media/images/1/ab/ab12.png", "file_name": "cat 1.png"},
        "annotations": [{"result": [{"type": "choices", "value": {"choices": ["cat"]}}]}],
    }
    assert label_studio_labels([task]) == {"cat 1.png": ["cat"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"tasks": []}', "JSON list of tasks"),
        ('[{"data": {}}]', "Task 1: data.image must be text, not null"),
        ("[1]", "Task 1 must be an object, not the number 1"),
        ('[\n{"data": ', "line 2: Not valid JSON"),
    ],
)
def test_bad_label_studio_export_is_a_clear_error(tmp_path, data, message):
    path = tmp_path / "export.json"
    path.write_text(data)
    with pytest.raises(LabelSourceError, match=message):
        label_studio_labels(path)


def test_matcher_prefers_the_relative_path_then_the_file_name():
    matcher = LabelMatcher({"train/a.jpg": ["cat"], "b.jpg": ["dog"], "x/c.jpg": ["bird"]})

    assert matcher.match("train/a.jpg").labels == ["cat"]
    assert matcher.match("other/a.jpg").labels == ["cat"]
    assert matcher.match("deep/b.jpg").labels == ["dog"]
    assert matcher.match("c.jpg").labels == ["bird"]
    missing = matcher.match("d.jpg")
    assert missing.labels is None and not missing.ambiguous


def test_matcher_matches_label_studio_names_with_or_without_their_upload_prefix():
    matcher = LabelMatcher({"1a2b3c4d-cat.jpg": ["cat"]})

    assert matcher.match("cat.jpg").labels == ["cat"]
    assert matcher.match("1a2b3c4d-cat.jpg").labels == ["cat"]
    assert matcher.match("1a2b3c4d.jpg").labels is None


def test_matcher_narrows_a_shared_name_by_folders_or_reports_it_ambiguous():
    matcher = LabelMatcher({"a/x.jpg": ["cat"], "b/x.jpg": ["dog"]})

    assert matcher.match("data/b/x.jpg").labels == ["dog"]
    ambiguous = matcher.match("x.jpg")
    assert ambiguous.labels is None and ambiguous.ambiguous
    assert "Ambiguous file name 'x.jpg'" in ambiguous.reason and "'a/x.jpg'" in ambiguous.reason


def test_a_bare_name_shared_by_several_files_of_the_import_is_ambiguous():
    matcher = LabelMatcher({"x.jpg": ["cat"]}, files=["a/x.jpg", "b/x.jpg", "y.jpg"])

    assert matcher.match("a/x.jpg").ambiguous
    assert "2 files have it" in matcher.match("b/x.jpg").reason
    assert LabelMatcher({"x.jpg": ["cat"]}, files=["a/x.jpg"]).match("a/x.jpg").labels == ["cat"]


def test_sources_load_without_django():
    """The command-line client imports this module where Django is not set up."""
    code = (
        "import sys, labeler.imports.reading.sources; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    root = Path(__file__).resolve().parents[3]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
