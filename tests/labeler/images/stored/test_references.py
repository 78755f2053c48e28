"""Images read in place: their names, and the one opener every reader of stored files uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeler.images.delivery import links
from labeler.images.stored import buckets, references
from tests.factories import image_bytes
from tests.s3 import Bucket, moto_server, s3_bucket  # noqa: F401 - fixtures


@pytest.fixture
def root(settings, tmp_path) -> Path:
    folder = tmp_path / "mnt"
    folder.mkdir()
    settings.LABELER_REFERENCE_ROOTS = [str(folder)]
    return folder


def test_reference_names_say_where_the_bytes_lie():
    name = references.s3_name(7, "photos", "2024/a b.JPG")
    assert name == "s3/7/photos/2024/a b.JPG"
    assert references.reference_locate(name) == references.Located(
        "s3", 7, bucket="photos", key="2024/a b.JPG"
    )
    assert references.reference_uri(name) == "s3://photos/2024/a b.JPG"
    folder = references.folder_name(7, "/mnt/photos/a.png")
    assert folder == "folder/7/mnt/photos/a.png"
    assert references.reference_locate(folder) == references.Located(
        "folder", 7, path="/mnt/photos/a.png"
    )
    assert links.file_project(folder) == 7
    for stored in ("images/7/ab/abc.png", "thumbnails/7/abc.jpg", "exports/7/x.zip", "s3/7/b"):
        assert not references.is_reference(stored)


def test_the_opener_reads_uploads_from_the_default_storage(media_root):
    stored = default_storage.save("images/3/ab/abc.png", ContentFile(b"bytes"))
    with references.file_open(stored) as handle:
        assert handle.read() == b"bytes"


def test_a_folder_file_is_read_only_inside_the_roots(root: Path, tmp_path: Path):
    inside = root / "a.png"
    inside.write_bytes(b"inside")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    (root / "link.png").symlink_to(outside)

    with references.file_open(references.folder_name(1, str(inside))) as handle:
        assert handle.read() == b"inside"
    for path in (outside, root / "link.png", root / ".." / "secret.png"):
        with pytest.raises(PermissionError, match="outside the folders"):
            references.file_open(references.folder_name(1, str(path)))


def test_a_folder_entry_that_is_no_regular_file_is_refused_without_blocking(root: Path):
    """A FIFO would block a plain open until someone writes to it."""
    os.mkfifo(root / "pipe.png")
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        references.folder_open(str(root / "pipe.png"))
    with pytest.raises(IsADirectoryError):
        references.folder_open(str(root))


def test_a_root_taken_out_of_the_settings_is_no_longer_read(root: Path, settings):
    (root / "a.png").write_bytes(b"x")
    settings.LABELER_REFERENCE_ROOTS = []
    with pytest.raises(PermissionError):
        references.file_open(references.folder_name(1, str(root / "a.png")))


def test_a_bucket_object_is_opened_and_its_absence_told(s3: Bucket):
    data = image_bytes()
    s3.put("a.png", data)
    with references.file_open(references.s3_name(1, s3.name, "a.png")) as body:
        assert body.read() == data
    with pytest.raises(FileNotFoundError, match="no longer in bucket"):
        references.file_open(references.s3_name(1, s3.name, "gone.png"))
    with pytest.raises(buckets.BucketUnavailable, match="does not exist"):
        references.file_open(references.s3_name(1, "no-such-bucket", "a.png"))


def test_an_object_over_the_limit_is_not_read_whole(s3: Bucket):
    s3.put("big.png", b"x" * 1000)
    with pytest.raises(ValueError, match="1,000 bytes; the limit is 999"):
        buckets.object_read(s3.name, "big.png", limit=999)


def test_only_a_users_address_of_a_bucket_image_is_presigned(s3: Bucket, settings):
    """An address made for no one never serves, presigned or not; presigning can be off.

    Only a user served originals (a lead, an admin) is sent to the bucket: it serves the
    original as it lies; others' addresses are this site's, which strips it for them.
    """
    name = references.s3_name(1, s3.name, "a.png")
    presigned = f"{s3.endpoint}/{s3.name}/a.png?"
    assert links.file_link(name, user_id=5, originals=True).startswith(presigned)
    assert links.file_link(name, user_id=5).startswith("/files/")
    assert links.file_link(name, user_id=0, originals=True).startswith("/files/")
    settings.LABELER_S3_PRESIGN = False
    assert links.file_link(name, user_id=5, originals=True).startswith("/files/")


def test_the_public_endpoint_is_the_one_presigned_for(s3: Bucket, settings):
    """Browsers may reach the bucket at another address than the workers do."""
    settings.LABELER_S3_PUBLIC_ENDPOINT_URL = "https://photos.example.com"
    address = references.reference_address(references.s3_name(1, s3.name, "a b.png"))
    assert address is not None
    assert address.startswith(f"https://photos.example.com/{s3.name}/a%20b.png?")
    assert "response-content-type=image%2Fpng" in address
