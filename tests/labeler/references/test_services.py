"""Registering buckets and folders: scanned in steps into images read where they lie."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labeler import flows
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.references import services
from labeler.references.models import Reference, ReferenceStatus
from tests.factories import image_bytes
from tests.s3 import Bucket, moto_server, s3_bucket  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def register(lead, django_capture_on_commit_callbacks):
    """Register a place and run its scan to the end (every step, as the worker would)."""

    def run(project, **where) -> Reference:
        with django_capture_on_commit_callbacks(execute=True):
            reference = services.reference_register(project=project, user=lead, **where)
        reference.refresh_from_db()
        return reference

    return run


@pytest.fixture
def roots(settings, tmp_path) -> Path:
    """An allowed root with a folder of photos in it, and a secret outside it."""
    root = tmp_path / "mnt"
    (root / "photos" / "day1").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.png").write_bytes(image_bytes())
    settings.LABELER_REFERENCE_ROOTS = [str(root)]
    return root


def counts(reference: Reference) -> dict[str, int]:
    fields = ("found", "created", "duplicates", "known", "rejected", "ignored")
    return {name: getattr(reference, name) for name in fields}


def test_a_bucket_prefix_becomes_images_read_in_place(project, s3: Bucket, register, media_root):
    """Each image object under the prefix is an image whose file names the object; its
    bytes are never copied into the default storage. Other files are passed over."""
    photos = {"cats/a.png": image_bytes(), "cats/sub/b.jpg": image_bytes("JPEG")}
    for key, data in photos.items():
        s3.put(key, data)
    s3.put("cats/notes.txt", b"not an image")
    s3.put("dogs/c.png", image_bytes())

    reference = register(project, kind="s3", bucket=s3.name, prefix="cats/")

    assert reference.status == ReferenceStatus.DONE, reference.error
    assert counts(reference) == {
        "found": 2, "created": 2, "duplicates": 0, "known": 0, "rejected": 0, "ignored": 1,
    }  # fmt: skip
    images = {image.source_key: image for image in Image.objects.filter(project=project)}
    assert set(images) == set(photos)
    image = images["cats/sub/b.jpg"]
    assert (image.source, image.format, image.original_name) == ("s3", "JPEG", "b.jpg")
    assert image.file.name == f"s3/{project.pk}/{s3.name}/cats/sub/b.jpg"
    assert image.size_bytes == len(photos["cats/sub/b.jpg"])
    assert not (media_root / "images").exists()


def test_registering_again_adds_only_what_is_new(project, s3: Bucket, register):
    """Keys registered before are passed over unread; the same content under another key
    is a duplicate, as for uploads."""
    first = image_bytes()
    s3.put("a.png", first)
    register(project, kind="s3", bucket=s3.name)
    s3.put("b.png", image_bytes())
    s3.put("copy-of-a.png", first)

    again = register(project, kind="s3", bucket=s3.name)

    assert counts(again) == {
        "found": 3, "created": 1, "duplicates": 1, "known": 1, "rejected": 0, "ignored": 0,
    }  # fmt: skip
    assert sorted(Image.objects.values_list("source_key", flat=True)) == ["a.png", "b.png"]


def test_a_large_bucket_is_scanned_in_steps(project, s3: Bucket, register, monkeypatch):
    """A step takes a few files after the cursor; the next step goes on from there."""
    monkeypatch.setattr(services, "STEP", 2)
    steps = []
    real_step = services.reference_scan_step
    monkeypatch.setattr(
        services,
        "reference_scan_step",
        lambda **kwargs: steps.append(1) or real_step(**kwargs),
    )
    for index in range(5):
        s3.put(f"img-{index}.png", image_bytes())

    reference = register(project, kind="s3", bucket=s3.name)

    assert (reference.status, reference.created, reference.cursor) == ("done", 5, "img-4.png")
    assert len(steps) == 3


def test_files_that_are_no_usable_image_are_reported_and_skipped(project, s3: Bucket, register):
    s3.put("good.png", image_bytes())
    s3.put("broken.jpg", b"\xff\xd8\xff\xe0 this is not really a JPEG")
    s3.put("empty.png", b"")

    reference = register(project, kind="s3", bucket=s3.name)

    assert (reference.created, reference.rejected) == (1, 2)
    assert [problem["key"] for problem in reference.problems] == ["broken.jpg", "empty.png"]
    assert "empty" in reference.problems[1]["reason"]


def test_keys_too_long_for_a_storage_name_are_refused_with_the_reason(
    project, s3: Bucket, register
):
    """Image.file holds 255 characters: the project, the bucket and the key must fit."""
    s3.put("d/" + "x" * 240 + ".png", image_bytes())
    s3.put("ok.png", image_bytes())

    reference = register(project, kind="s3", bucket=s3.name)

    assert (reference.created, reference.rejected) == (1, 1)
    assert "too long to register here" in reference.problems[0]["reason"]


def test_a_missing_bucket_fails_the_scan_with_the_reason(project, s3: Bucket, register):
    reference = register(project, kind="s3", bucket="no-such-bucket-here")

    assert reference.status == ReferenceStatus.FAILED
    assert reference.error == f"Bucket 'no-such-bucket-here' does not exist at {s3.endpoint}."


def test_an_unreachable_endpoint_fails_the_scan_with_the_reason(
    project, register, settings, s3: Bucket
):
    settings.LABELER_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # the discard port: refused

    reference = register(project, kind="s3", bucket=s3.name)

    assert reference.status == ReferenceStatus.FAILED
    assert reference.error.startswith("Cannot reach the S3 endpoint http://127.0.0.1:9:")


def test_a_step_delivered_twice_never_counts_a_file_twice(project, s3: Bucket, lead):
    """A step whose cursor moved on since it started (another delivery went ahead) stops."""
    s3.put("a.png", image_bytes())
    reference = Reference.objects.create(project=project, kind="s3", bucket=s3.name)
    claimed = services._claim(reference.pk)
    assert claimed is not None
    page = services._page(claimed)
    Reference.objects.filter(pk=reference.pk).update(cursor="a.png")  # the other one's work

    assert services._scan_page(claimed, page, on_created=lambda image_id: None) is False
    assert Image.objects.count() == 0
    assert Reference.objects.get(pk=reference.pk).found == 0


def test_the_bucket_must_be_one_the_server_may_read(project, s3: Bucket, lead, settings):
    settings.LABELER_REFERENCE_BUCKETS = ["team-photos"]
    with pytest.raises(ValidationFailed, match="not one this server may read"):
        services.reference_register(project=project, user=lead, kind="s3", bucket=s3.name)
    settings.LABELER_REFERENCE_BUCKETS = []
    with pytest.raises(ValidationFailed, match="LABELER_REFERENCE_BUCKETS names none"):
        services.reference_register(project=project, user=lead, kind="s3", bucket=s3.name)
    assert not Reference.objects.exists()


def test_a_project_that_strips_metadata_takes_no_references(project, s3: Bucket, lead):
    """Its originals are stored without GPS positions; a file read in place cannot be."""
    project.strip_metadata_on_ingest = True
    project.save(update_fields=["strip_metadata_on_ingest"])
    with pytest.raises(ValidationFailed, match="strip_metadata_on_ingest"):
        services.reference_register(project=project, user=lead, kind="s3", bucket=s3.name)


def test_deleting_the_project_leaves_the_bucket_as_it_was(
    project, s3: Bucket, register, django_capture_on_commit_callbacks
):
    data = image_bytes()
    s3.put("keep/me.png", data)
    register(project, kind="s3", bucket=s3.name)

    with django_capture_on_commit_callbacks(execute=True):
        flows.project_delete(project=project)

    assert s3.keys() == ["keep/me.png"]
    assert s3.get("keep/me.png") == data


# Folders.


def test_a_folder_becomes_images_read_in_place(project, roots: Path, register):
    """Files under the folder, in sub-folders too; hidden ones and other files passed over;
    the source key is the path under the allowed root."""
    folder = roots / "photos"
    (folder / "a.png").write_bytes(image_bytes())
    (folder / "day1" / "b.JPG").write_bytes(image_bytes("JPEG"))
    (folder / ".hidden.png").write_bytes(image_bytes())
    (folder / "readme.md").write_text("notes")

    reference = register(project, kind="folder", path=str(folder))

    assert reference.status == ReferenceStatus.DONE, reference.error
    assert (reference.found, reference.created, reference.ignored) == (2, 2, 1)
    keys = sorted(Image.objects.values_list("source_key", flat=True))
    assert keys == ["photos/a.png", "photos/day1/b.JPG"]
    image = Image.objects.get(source_key="photos/a.png")
    assert (image.source, image.file.name) == ("folder", f"folder/{project.pk}{folder}/a.png")


def test_models_read_a_folder_image_where_it_lies(project, roots: Path, register):
    """Training and pre-labelling open an image's file through the worker's opener,
    which reads a referenced file in place: the bytes are the folder's own."""
    from worker import model_jobs

    data = image_bytes("JPEG")
    (roots / "photos").mkdir(parents=True, exist_ok=True)
    (roots / "photos" / "a.jpg").write_bytes(data)
    register(project, kind="folder", path=str(roots / "photos"))

    image = Image.objects.get()
    with model_jobs._open(image.file.name) as handle:
        assert handle.read() == data


def test_links_out_of_the_allowed_roots_are_not_followed(project, roots: Path, register):
    """A link to a file outside is refused when read; a link to a folder is not walked."""
    folder = roots / "photos"
    (folder / "inside.png").write_bytes(image_bytes())
    outside = roots.parent / "outside"
    os.symlink(outside / "secret.png", folder / "escape.png")
    os.symlink(outside, folder / "elsewhere")

    reference = register(project, kind="folder", path=str(folder))

    assert (reference.created, reference.rejected) == (1, 1)
    assert reference.problems[0]["key"] == "escape.png"
    assert "outside the folders this server may read" in reference.problems[0]["reason"]
    assert list(Image.objects.values_list("original_name", flat=True)) == ["inside.png"]


def test_a_folder_scan_resumes_after_its_cursor_in_tree_order(
    project, roots: Path, register, monkeypatch
):
    """Paths compare part by part ("a/z" before "a-b"), so no file is skipped or repeated."""
    monkeypatch.setattr(services, "STEP", 1)
    folder = roots / "photos"
    for relative in ("a/z.png", "a-b.png", "a/b/c.png", "b.png"):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(image_bytes())

    reference = register(project, kind="folder", path=str(folder))

    assert (reference.found, reference.created) == (4, 4)
    assert reference.cursor == "b.png"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc", "is not inside a folder this server may read"),
        ("relative/photos", "must be absolute"),
        ("{root}/photos/../../outside", "without '..'"),
        ("{root}/photos/link-out", "is not inside a folder this server may read"),
        ("{root}/photos/missing", "is not a folder"),
    ],
)
def test_folders_outside_the_roots_are_refused(project, roots: Path, lead, path, message):
    os.symlink(roots.parent / "outside", roots / "photos" / "link-out")
    with pytest.raises(ValidationFailed, match=message):
        services.reference_register(
            project=project, user=lead, kind="folder", path=path.format(root=roots)
        )


def test_no_roots_no_folder_references(project, lead, settings, tmp_path):
    settings.LABELER_REFERENCE_ROOTS = []
    with pytest.raises(ValidationFailed, match="LABELER_REFERENCE_ROOTS names none"):
        services.reference_register(project=project, user=lead, kind="folder", path=str(tmp_path))


def test_deleting_the_project_leaves_the_folder_as_it_was(
    project, roots: Path, register, django_capture_on_commit_callbacks
):
    photo = roots / "photos" / "a.png"
    photo.write_bytes(image_bytes())
    register(project, kind="folder", path=str(roots / "photos"))

    with django_capture_on_commit_callbacks(execute=True):
        flows.project_delete(project=project)

    assert photo.exists()


def test_the_scan_task_runs_through_the_flow(project, s3: Bucket, lead, monkeypatch):
    """The worker's task calls the flow, which adds each new image's follow-up."""
    s3.put("a.png", image_bytes())
    reference = Reference.objects.create(project=project, kind="s3", bucket=s3.name)
    added = []
    monkeypatch.setattr(flows, "image_added", lambda *, image_id: added.append(image_id))

    flows.reference_scan(reference_id=reference.pk)

    assert added == list(Image.objects.values_list("pk", flat=True))


def test_images_read_in_place_get_their_previews(project, s3: Bucket, register):
    """The worker reads the object for the thumbnail and display copy, kept in our storage."""
    s3.put("big.jpg", image_bytes("JPEG", size=(2400, 1600)))

    register(project, kind="s3", bucket=s3.name)

    image = Image.objects.get()
    assert image.thumbnail.name == f"thumbnails/{project.pk}/{image.sha256}.jpg"
    assert image.display.name == f"displays/{project.pk}/{image.sha256}.jpg"
    assert image.thumbnail.read()[:2] == b"\xff\xd8"
