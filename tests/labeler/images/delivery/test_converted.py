"""HEIC, AVIF and GIF images keep a converted copy, made from the decode that makes their
previews; every route that deletes an image's files deletes it too; images prepared
before copies were kept get theirs a bounded step at a time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from PIL import Image as PILImage

from labeler import flows
from labeler.bulk.services import bulk_action
from labeler.flows import project_delete
from labeler.images.delivery.converted import converted_keep
from labeler.images.file_deletes import storage_delete_files
from labeler.images.models import STORED_FILE_FIELDS, Image
from labeler.images.pixels import files
from labeler.images.pixels.conversion import image_converted
from labeler.images.pixels.decoding import image_exif
from labeler.images.services import image_prepare
from tests.api.test_images import assert_storage_matches_rows
from tests.factories import image_bytes
from tests.labeler.images import samples
from worker import tasks

pytestmark = pytest.mark.django_db


def prepared(project, named: dict[str, bytes]) -> list[Image]:
    """The files uploaded, then prepared as the worker does once the upload commits."""
    uploads = [SimpleUploadedFile(name, data) for name, data in named.items()]
    results = flows.images_ingest(project=project, files=uploads)
    for result in results:
        flows.image_prepare(image_id=result.image_id)
    return [Image.objects.get(pk=result.image_id) for result in results]


def copies(media_root) -> list[Path]:
    return [path for path in (Path(media_root) / "converted").rglob("*") if path.is_file()]


@pytest.mark.parametrize(("fmt", "extension"), [("HEIF", "jpg"), ("GIF", "png")])
def test_a_new_image_keeps_its_copy_made_from_the_decode_of_its_previews(
    project, media_root, monkeypatch, fmt, extension
):
    """The copy is what an export that strips metadata writes, byte for byte; the
    previews come from the same decode (no reduced decode of their own)."""
    original = samples.photo_located(fmt) if fmt == "HEIF" else image_bytes("GIF", (40, 20))
    monkeypatch.setattr(files, "image_decode_reduced", pytest.fail)

    [image] = prepared(project, {f"IMG_1.{fmt.lower()}": original})

    assert image.converted.name == f"converted/{project.pk}/{image.sha256}.{extension}"
    copy = (Path(media_root) / image.converted.name).read_bytes()
    assert copy == image_converted(original, fmt)
    assert not image_exif(copy) and b"PhoneMaker" not in copy
    thumbnail = PILImage.open(Path(media_root) / image.thumbnail.name)
    assert thumbnail.size == ((20, 40) if fmt == "HEIF" else (40, 20))  # turned upright
    assert_storage_matches_rows(media_root)


def _bulk_delete(project, lead, images):
    bulk_action(
        project=project,
        user=lead,
        action="delete",
        selection={"ids": [image.pk for image in images]},
        params={},
        expected_count=len(images),
    )


def _made_again(project, lead, images):
    """The previews and copy made anew (images_render_previews): the copy replaced in place."""
    for image in images:
        image_prepare(image_id=image.pk, input_specs=set(), again=True)


def _deleted_while_kept(project, lead, images):
    """Deleted while the worker was storing its copy: the copy it stores goes again."""
    for image in images:
        names = [getattr(image, field).name for field in STORED_FILE_FIELDS]
        storage_delete_files(names=[name for name in names if name])
        Image.objects.filter(pk=image.pk).delete()
        if image.converted:
            assert converted_keep(image=image, content=b"late copy") == ""


def _admin(path: str) -> None:
    """Confirmed on the admin site's delete page, as a superuser."""
    browser = Client()
    admin = User.objects.filter(username="site-admin").first()
    browser.force_login(admin or User.objects.create_superuser("site-admin", "a@x.org", "pw"))
    assert browser.post(path, {"post": "yes"}).status_code == 302


def _admin_image_delete(project, lead, images):
    for image in images:
        _admin(f"/admin/images/image/{image.pk}/delete/")


ROUTES = {
    "bulk delete": _bulk_delete,
    "project delete": lambda project, lead, images: project_delete(project=project),
    "image deleted in the admin": _admin_image_delete,
    "project deleted in the admin": lambda project, lead, images: _admin(
        f"/admin/projects/project/{project.pk}/delete/"
    ),
    "previews made again": _made_again,
    "deleted while its copy was stored": _deleted_while_kept,
}


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_that_deletes_an_images_files_deletes_its_copy(
    project, lead, media_root, django_capture_on_commit_callbacks, route
):
    """The copy goes with the original, its thumbnail and display copy (the files go in
    the background once the deletion commits); one made again replaces the first."""
    images = prepared(
        project,
        {
            "IMG_1.heic": samples.photo("HEIF", (64, 48)),
            "anim.gif": image_bytes("GIF"),
            "plain.jpg": image_bytes("JPEG"),  # a JPEG gets no copy
        },
    )
    assert len(copies(media_root)) == 2 and not images[2].converted

    with django_capture_on_commit_callbacks(execute=True):
        ROUTES[route](project, lead, images)

    kept = Image.objects.exclude(converted="").count()
    assert len(copies(media_root)) == kept == (2 if route == "previews made again" else 0)
    assert_storage_matches_rows(media_root)


def test_images_prepared_before_get_their_copies_a_bounded_step_at_a_time(
    project, media_root, settings
):
    """Each step goes on after the last one's images and starts again once past the last,
    so an image whose copy cannot be made never holds up the others."""
    settings.LABELER_CONVERTED_BACKFILL_BATCH = 1
    lost, gif, _ = prepared(
        project,
        {
            "IMG_1.heic": samples.photo("HEIF", (64, 48)),
            "anim.gif": image_bytes("GIF"),
            "plain.jpg": image_bytes("JPEG"),
        },
    )
    storage_delete_files(names=[lost.converted.name, gif.converted.name, lost.file.name])
    Image.objects.update(converted="")  # as prepared before copies were kept

    made = [tasks.images_converted_backfill() for _ in range(4)]

    assert made == [0, 1, 0, 0]  # the lost original, the GIF, none left, the lost one again
    gif.refresh_from_db()
    assert gif.converted.name.endswith(".png") and len(copies(media_root)) == 1
    out = io.StringIO()
    call_command("images_make_converted", "--project", str(project.pk), stdout=out)
    assert out.getvalue() == (
        "1 images read, 0 given a converted copy, 0 that cannot be converted, "
        "1 whose file is missing.\n"
    )
