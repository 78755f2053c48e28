"""Exports of hostile names: zip members stay in their folder, CSV cells run no formula.

Label names and image file names are the user's; an export turns them into member
paths and spreadsheet cells. Every member of every zip format must normalise to a path
inside the archive's folder, and every CSV cell that starts like a formula is quoted.
"""

from __future__ import annotations

import csv
import io
import posixpath
import shutil
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

import pytest

from labeler.annotations.models import FinalLabel
from labeler.exports.formats import EXPORTERS
from labeler.imports.reading.sources import FORMULA_STARTS, csv_labels
from labeler.projects.models import Label, Role
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.exports.data import annotate, finalise
from tests.labeler.exports.formats import export_bytes, extract

pytestmark = pytest.mark.django_db

HOSTILE_LABELS = [
    "../../etc",
    "a/b",
    "..",
    ".",
    "x\\..\\..\\y",
    "C:\\Windows",
    "C:evil",
    "/root",
    "~",
    "=1+1",
    "+cmd' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "<img src=x onerror=alert(1)>",
    "CON",
    "\ufe52\ufe52\uff0fup",
    "ǅ" * 100,
]
HOSTILE_FILE_NAMES = [
    "../../../evil.png",
    "..\\..\\evil.png",
    "/etc/passwd.png",
    "C:\\evil.png",
    "..",
    '=HYPERLINK("http://x").png',
    "-rf .png",
    "<script>.png",
    ".hidden.png",
    "a" * 250 + ".png",
    "\ufe52\ufe52\uff0fevil.png",
    "",
]
ZIP_FORMATS = [name for name, fmt in EXPORTERS.items() if fmt.content_type == "application/zip"]


@pytest.fixture
def hostile_project(make_images):
    """A project of hostile label names whose images carry hostile file names."""
    project = ProjectFactory(name="../../x", labels=[], multi_label=True)
    for position, name in enumerate(HOSTILE_LABELS):
        Label.objects.create(project=project, name=name, color="#123456", position=position)
    annotator = UserFactory(username="=cmd")
    add_member(project, annotator, Role.ANNOTATOR)
    images = make_images(project, len(HOSTILE_FILE_NAMES))
    for index, (image, name) in enumerate(zip(images, HOSTILE_FILE_NAMES, strict=True)):
        image.original_name = name
        image.save(update_fields=["original_name"])
        labels = [HOSTILE_LABELS[index % len(HOSTILE_LABELS)], HOSTILE_LABELS[-1 - index]]
        annotate(image, annotator, labels)
        finalise(image, labels)
    return project


def assert_inside(member: str) -> None:
    """The member is a relative path that stays inside its folder on POSIX and Windows."""
    assert member and "\0" not in member and "\\" not in member, member
    assert not PurePosixPath(member).is_absolute() and not PureWindowsPath(member).drive, member
    normal = posixpath.normpath(member)
    assert normal == member.rstrip("/"), member  # no '.', '..' nor empty parts to resolve
    assert not normal.startswith(".."), member
    for part in PurePosixPath(member).parts:
        assert part not in (".", "..") and not part.endswith((" ", ".")), member
        assert "\uff1a" not in part and ":" not in part, member


@pytest.mark.parametrize("fmt", ZIP_FORMATS)
def test_zip_members_stay_inside_the_folder(hostile_project, tmp_path, fmt):
    """Every member of the imagefolder zips is a plain relative path; extracting stays put."""
    data = export_bytes(hostile_project, format=fmt, split="0.8,0.2")

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.namelist()
    assert len(members) >= len(HOSTILE_FILE_NAMES)
    for member in members:
        assert_inside(member)
    assert len(set(members)) == len(members)
    out = tmp_path / "out"
    extract(data, out)
    # The images extracted keep safe names such as evil.png; the upload tests look for
    # any file of that name escaped near their own folders, under the same base folder.
    shutil.rmtree(out)


def test_every_hostile_label_gets_its_own_folder(hostile_project):
    """Distinct labels never share a folder, and no folder is '.', '..' or a path."""
    data = export_bytes(hostile_project, format="imagefolder")

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
        listed = archive.read("classes.txt").decode().splitlines()
    assert len(folders) == len(HOSTILE_LABELS)
    assert [line.split("\t")[0] for line in listed] == sorted(folders)


def test_csv_cells_that_start_like_formulas_are_quoted(hostile_project):
    """Labels, file names and usernames starting with = + - @ are written behind a quote."""
    data = export_bytes(hostile_project, format="csv").decode()

    rows = list(csv.reader(io.StringIO(data)))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    quoted = {cell for cell in cells if cell.startswith("'") and cell[1:2] in FORMULA_STARTS}
    assert {"'=cmd", '\'=HYPERLINK("http://x").png', "'-rf .png"} <= quoted
    assert any(cell.startswith(("'@SUM", "'=1+1", "'-2+3", "'+cmd")) for cell in quoted)


def test_quoted_csv_cells_import_back_as_they_were(hostile_project):
    """The CSV label source takes the quote off: an export's labels read back unchanged."""
    rows = list(csv.reader(io.StringIO(export_bytes(hostile_project, format="csv").decode())))
    named = [row for row in rows if row[1]]  # a file name is needed to key labels by
    text = io.StringIO()
    csv.writer(text).writerows(named)

    labels = csv_labels(text.getvalue())

    expected = [
        sorted(final.labels.values_list("name", flat=True))
        for final in FinalLabel.objects.filter(image__project=hostile_project)
        if final.image.original_name
    ]
    assert sorted(sorted(names) for names in labels.values()) == sorted(expected)
    assert '=HYPERLINK("http://x").png' in labels


def test_hf_imagefolder_metadata_cells_that_start_like_formulas_are_quoted(make_images):
    """metadata.csv quotes labels as the CSV export does; its file names still name members."""
    formulas = ["=1+1", "+cmd' /C calc'!A0", "-2+3", "@SUM(A1)"]
    project = ProjectFactory(labels=[])
    for position, name in enumerate(formulas):
        Label.objects.create(project=project, name=name, color="#123456", position=position)
    annotator = UserFactory(username="=cmd")
    add_member(project, annotator, Role.ANNOTATOR)
    for image, label, name in zip(
        make_images(project, 4), formulas, ["=x.png", "+x.png", "-x.png", "@x.png"], strict=True
    ):
        image.original_name = name
        image.save(update_fields=["original_name"])
        annotate(image, annotator, [label])
        finalise(image, [label])

    with zipfile.ZipFile(io.BytesIO(export_bytes(project, format="hf-imagefolder"))) as archive:
        members = set(archive.namelist())
        rows = list(csv.DictReader(io.StringIO(archive.read("train/metadata.csv").decode())))

    assert sorted(row["label"] for row in rows) == sorted("'" + name for name in formulas)
    assert all(f"train/{row['file_name']}" in members for row in rows)


def test_hf_imagefolder_metadata_runs_no_formula(hostile_project):
    """No cell of a hostile multi-label project's metadata.csv starts like a formula."""
    with zipfile.ZipFile(io.BytesIO(export_bytes(hostile_project, format="hf-imagefolder"))) as z:
        rows = list(csv.reader(io.StringIO(z.read("train/metadata.csv").decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    assert [cell for cell in cells if cell.startswith("'") and cell[1:2] in FORMULA_STARTS]


def test_quoted_hf_imagefolder_labels_import_back_as_they_were(hostile_project):
    """The CSV label source reads metadata.csv's quoted labels back unchanged."""
    with zipfile.ZipFile(io.BytesIO(export_bytes(hostile_project, format="hf-imagefolder"))) as z:
        labels = csv_labels(z.read("train/metadata.csv").decode())

    expected = sorted(
        sorted(final.labels.values_list("name", flat=True))
        for final in FinalLabel.objects.filter(image__project=hostile_project)
    )
    assert sorted(sorted(names) for names in labels.values()) == expected
