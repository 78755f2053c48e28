"""The image archives as dataset tools read them: every class folder in every split, a
classes.txt in their index order, and HEIC, AVIF and GIF converted unless asked not to."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from labeler import flows
from labeler.errors import ValidationFailed
from labeler.exports.formats import members
from tests.factories import image_bytes
from tests.labeler.exports.data import finalise, uploaded
from tests.labeler.exports.formats import export_bytes
from tests.labeler.images import samples

pytestmark = pytest.mark.django_db

SPLITS = ("train", "val", "test")


@pytest.fixture
def uneven(project, make_images):
    """Ten images: six cats, two dogs, two birds, and a label whose name is no folder name
    with none. A 90/0/10 split leaves val without any image and test with one."""
    project.labels.create(name="sea/lake", color="#123456", position=3)
    images = make_images(project, 10)
    for image, name in zip(images, ["cat"] * 6 + ["dog"] * 2 + ["bird"] * 2, strict=True):
        finalise(image, [name])
    return images


def names_in(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def test_every_split_holds_every_class_folder_and_a_classes_txt(project, uneven):
    data = export_bytes(project, format="imagefolder", split="0.9,0,0.1")

    names = names_in(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for split in SPLITS:
            for folder in ("bird", "cat", "dog", "sea_lake"):
                assert archive.getinfo(f"{split}/{folder}/").is_dir()
            listed = archive.read(f"{split}/classes.txt").decode()
            assert listed == "bird\ncat\ndog\nsea_lake\tsea/lake\n"
            # The project's order, its models' outputs: cat, dog, bird as created.
            outputs = archive.read(f"{split}/model_outputs.txt").decode()
            assert outputs == "cat\ndog\nbird\nsea_lake\tsea/lake\n"
    images = [name for name in names if name.endswith(".png")]
    assert len(images) == 10
    assert {name.split("/")[0] for name in images} == {"train", "test"}  # val holds none


def test_an_unsplit_archive_has_the_class_folders_and_classes_txt_at_its_root(project, uneven):
    names = names_in(export_bytes(project, format="imagefolder", label="cat"))

    assert {"bird/", "cat/", "dog/", "sea_lake/", "classes.txt"} <= set(names)
    assert {name.split("/")[0] for name in names if name.endswith(".png")} == {"cat"}


def test_hugging_face_archives_name_the_classes_in_the_same_order(project, uneven):
    data = export_bytes(project, format="hf-imagefolder", split="0.8,0.1,0.1")

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("classes.txt").decode() == "bird\ncat\ndog\nsea/lake\n"


@pytest.fixture
def mixed(project):
    """A camera roll: a HEIC, an AVIF, a GIF and a PNG, each its own label."""
    images = uploaded(
        project,
        {
            "IMG_1.HEIC": samples.photo("HEIF", (64, 48)),
            "IMG_2.avif": samples.photo("AVIF", (64, 48)),
            "anim.gif": image_bytes("GIF"),
            "scan.png": image_bytes("PNG"),
        },
    )
    for image, name in zip(images, ["cat", "dog", "bird", "cat"], strict=True):
        finalise(image, [name])
    return images


MAGIC = {"jpg": b"\xff\xd8", "png": b"\x89PNG", "gif": b"GIF8", "heic": b"ftyp", "avif": b"ftyp"}


def members_by_extension(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name.rsplit(".", 1)[1]: archive.read(name)
            for name in archive.namelist()
            if "-" in name.rsplit("/", 1)[-1]
        }


@pytest.mark.parametrize("fmt", ["imagefolder", "hf-imagefolder"])
def test_heic_avif_and_gif_are_converted_unless_asked_not_to(project, mixed, fmt):
    converted = export_bytes(project, format=fmt)
    names = sorted(name.rsplit("/", 1)[-1] for name in names_in(converted) if "-" in name)
    ids = [image.pk for image in mixed]
    assert names == sorted(
        [f"{ids[0]}-IMG_1.jpg", f"{ids[1]}-IMG_2.jpg", f"{ids[2]}-anim.png", f"{ids[3]}-scan.png"]
    )
    with zipfile.ZipFile(io.BytesIO(converted)) as archive:
        for name in archive.namelist():
            if name.endswith(".jpg"):
                assert archive.read(name).startswith(b"\xff\xd8")
                assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED

    kept = members_by_extension(export_bytes(project, format=fmt, convert_images=False))
    assert sorted(kept) == ["avif", "gif", "heic", "png"]
    for extension, data in kept.items():
        assert MAGIC[extension] in data[:12], extension


def test_the_metadata_csv_names_the_converted_files(project, mixed):
    data = export_bytes(project, format="hf-imagefolder")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("train/metadata.csv").decode())))
        files = {name.rsplit("/", 1)[-1] for name in archive.namelist()}
    assert {row["file_name"] for row in rows} <= files
    assert sorted(row["file_name"].rsplit(".", 1)[1] for row in rows) == [
        "jpg",
        "jpg",
        "png",
        "png",
    ]


def test_a_multi_label_photo_is_converted_once_for_all_its_folders(project, monkeypatch):
    project.multi_label = True
    project.save()
    [photo] = uploaded(project, {"IMG_3.heic": samples.photo("HEIF", (64, 48))})
    finalise(photo, ["cat", "dog", "bird"])
    calls = []
    convert = members.image_converted
    monkeypatch.setattr(
        members, "image_converted", lambda *args, **kw: calls.append(args) or convert(*args, **kw)
    )

    data = export_bytes(project, format="imagefolder")

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        copies = {archive.read(f"{label}/{photo.pk}-IMG_3.jpg") for label in ("cat", "dog", "bird")}
    assert len(calls) == 1 and len(copies) == 1


def test_a_photo_that_cannot_be_decoded_fails_the_export_naming_it(project, settings):
    """Refused by the decoding cap: the export fails with the stored file's name and why."""
    [photo] = uploaded(project, {"IMG_4.heic": samples.photo("HEIF", (64, 48))})
    finalise(photo, ["cat"])
    settings.LABELER_MAX_DECODE_BYTES = 1000

    with pytest.raises(ValidationFailed, match=rf"{photo.file.name} cannot be read: Decoding this"):
        export_bytes(project, format="imagefolder")


def test_more_photos_to_convert_than_threads_each_go_in_once(project, settings):
    """One conversion at a time: the others wait for it, the PNGs are copied meanwhile."""
    settings.LABELER_EXPORT_CONVERT_THREADS = 1
    files = {f"IMG_{n}.heic": samples.photo("HEIF", (32 + n, 24)) for n in range(3)}
    photos = uploaded(project, {**files, "a.png": image_bytes(), "b.png": image_bytes()})
    for photo in photos:
        finalise(photo, ["cat"])

    names = [name for name in names_in(export_bytes(project, format="imagefolder")) if "-" in name]

    extensions = ["jpg"] * 3 + ["png"] * 2
    expected = [
        f"cat/{photo.pk}-{photo.original_name.rsplit('.', 1)[0]}.{extension}"
        for photo, extension in zip(photos, extensions, strict=True)
    ]
    assert sorted(names) == sorted(expected)


def test_a_prepared_photo_goes_in_as_its_kept_copy_unless_its_metadata_are_kept(
    project, monkeypatch
):
    """The worker's copy is written as it is, nothing converted; a copy gone from storage
    is converted again; a project that keeps metadata converts with them."""
    [photo] = uploaded(project, {"IMG_5.heic": samples.photo_located("HEIF")})
    flows.image_prepare(image_id=photo.pk)
    photo.refresh_from_db()
    finalise(photo, ["cat"])
    member = f"cat/{photo.pk}-IMG_5.jpg"
    kept = photo.converted.read()
    with monkeypatch.context() as patched:
        patched.setattr(members, "image_converted", pytest.fail)
        with zipfile.ZipFile(io.BytesIO(export_bytes(project, format="imagefolder"))) as archive:
            assert archive.read(member) == kept

    photo.converted.storage.delete(photo.converted.name)
    with zipfile.ZipFile(io.BytesIO(export_bytes(project, format="imagefolder"))) as archive:
        assert archive.read(member) == kept
    project.export_keep_metadata = True
    project.save()
    with zipfile.ZipFile(io.BytesIO(export_bytes(project, format="imagefolder"))) as archive:
        assert b"PhoneMaker" in archive.read(member)


def test_a_label_named_as_a_file_beside_the_folders_gets_another_folder(project, make_images):
    """A label called classes.txt or model_outputs.txt never makes a folder of the name of
    the file listing the classes: each file and each folder stays what it is."""
    for position, name in enumerate(["classes.txt", "Model_Outputs.txt"], start=3):
        project.labels.create(name=name, color="#123456", position=position)
    images = make_images(project, 2)
    finalise(images[0], ["classes.txt"])
    finalise(images[1], ["Model_Outputs.txt"])
    data = export_bytes(project, format="imagefolder")

    names = names_in(data)
    assert "classes.txt" in names and "model_outputs.txt" in names
    assert not [
        name for name in names if name.lower().startswith(("classes.txt/", "model_outputs.txt/"))
    ]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        listed = archive.read("classes.txt").decode().splitlines()
    assert (
        "classes.txt-2\tclasses.txt" in listed
        and "Model_Outputs.txt-2\tModel_Outputs.txt" in listed
    )
