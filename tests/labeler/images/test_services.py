"""Ingest's all-or-nothing per file, and the background work on a stored image."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from labeler import flows
from labeler.annotations.queue import queue_next_image
from labeler.flows import project_delete
from labeler.images import services
from labeler.images.models import Image
from labeler.task_names import Task
from tests.api.test_images import assert_storage_matches_rows
from tests.factories import ModelVersionFactory, image_bytes
from tests.labeler.images import samples


@pytest.mark.django_db(transaction=True)
def test_failing_follow_up_after_commit_never_deletes_a_stored_image(
    project, media_root, monkeypatch
):
    """In autocommit the thumbnail task runs at commit; if it fails, the row keeps its file.

    The failure is logged, not raised to the uploader: the image committed before it stays
    whole (its row and its file) and is reported as created.
    """

    def thumbnail_fails(*, image_id: int, **_: object) -> None:
        raise RuntimeError("thumbnail task failed")

    monkeypatch.setattr(services, "image_prepare", thumbnail_fails)

    [result] = flows.images_ingest(
        project=project, files=[SimpleUploadedFile("a.png", image_bytes())]
    )

    assert result.status == "created"
    image = Image.objects.get()
    assert image.pk == result.image_id
    assert (Path(media_root) / image.file.name).is_file()
    assert not image.thumbnail


@pytest.mark.django_db
def test_new_images_of_a_project_with_a_model_get_a_prelabelling_pass(
    project, media_root, django_capture_on_commit_callbacks
):
    """An upload that creates images starts the current model's pass over the images it
    has not predicted; an upload of duplicates only starts none."""
    with django_capture_on_commit_callbacks(execute=True):
        flows.images_ingest(project=project, files=[SimpleUploadedFile("a.png", image_bytes())])
    model = ModelVersionFactory(project=project, is_current=True)
    assert model.prelabel_started_at is None

    files = [SimpleUploadedFile(f"{n}.png", image_bytes()) for n in "bc"]
    with django_capture_on_commit_callbacks(execute=True):
        flows.images_ingest(project=project, files=files)
    model.refresh_from_db()
    # Planned over the images the model has not predicted: all three (the first one came
    # before the model); the prediction itself needs weights this factory model lacks.
    assert model.prelabel_started_at is not None and model.prelabel_total == 3

    model.prelabel_started_at = None
    model.save()
    again = [SimpleUploadedFile("b.png", files[0].open().read())]
    with django_capture_on_commit_callbacks(execute=True):
        [result] = flows.images_ingest(project=project, files=again)
    assert result.status == "duplicate"
    model.refresh_from_db()
    assert model.prelabel_started_at is None


@pytest.mark.django_db
def test_the_original_is_kept_byte_for_byte_and_its_previews_are_upright(
    project, media_root, django_capture_on_commit_callbacks
):
    """A phone photo stored turned by its EXIF: the file stays as sent (turning it meant
    encoding it again, a third larger); the thumbnail task makes the upright previews.
    Run again, it changes nothing."""
    data = samples.jpeg_turned()
    with django_capture_on_commit_callbacks(execute=True):
        [result] = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("phone.jpg", data)]
        )

    image = Image.objects.get(pk=result.image_id)
    assert image.file.name == f"images/{project.pk}/{image.sha256[:2]}/{image.sha256}.jpg"
    assert (Path(media_root) / image.file.name).read_bytes() == data
    assert image.size_bytes == len(data) and (image.width, image.height) == (20, 40)
    assert PILImage.open(Path(media_root) / image.thumbnail.name).size == (20, 40)
    assert not image.display  # it fits the display size: the original is shown
    assert_storage_matches_rows(media_root)

    flows.image_prepare(image_id=image.pk)
    again = Image.objects.get(pk=image.pk)
    assert (again.file.name, again.thumbnail.name) == (image.file.name, image.thumbnail.name)
    assert_storage_matches_rows(media_root)


@pytest.mark.django_db
def test_a_large_photo_gets_a_display_copy_served_to_members(
    project, media_root, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_DISPLAY_SIZE = 30
    with django_capture_on_commit_callbacks(execute=True):
        [result] = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("phone.jpg", samples.jpeg_turned())]
        )

    image = Image.objects.get(pk=result.image_id)
    assert image.display.name == f"displays/{project.pk}/{image.sha256}.jpg"
    assert PILImage.open(Path(media_root) / image.display.name).size == (15, 30)
    assert_storage_matches_rows(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project)
    assert not list(Path(media_root).rglob("*.jpg"))


@pytest.mark.django_db
def test_a_photo_the_worker_cannot_decode_is_noted_and_leaves_the_queue(
    project, annotator, media_root, django_capture_on_commit_callbacks
):
    """The upload answers once a photo is stored: its pixels are decoded by the worker,
    which notes one it cannot decode; the queue never hands that one out."""
    files = [
        SimpleUploadedFile("broken.jpg", samples.jpeg_undecodable()),
        SimpleUploadedFile("fine.jpg", image_bytes("JPEG")),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        broken, fine = flows.images_ingest(project=project, files=files)

    assert (broken.status, fine.status) == ("created", "created")
    image = Image.objects.get(pk=broken.image_id)
    assert image.problem.startswith("The image cannot be decoded: broken data stream")
    assert not image.thumbnail
    assert Image.objects.get(pk=fine.image_id).thumbnail
    leased = queue_next_image(project=project, annotator=annotator)
    assert leased is not None and leased.image_id == fine.image_id
    assert queue_next_image(project=project, annotator=annotator, exclude=[fine.image_id]) is None

    flows.image_prepare(image_id=image.pk)  # run again: the noted image is left as it is
    assert Image.objects.get(pk=image.pk).problem == image.problem


@pytest.mark.django_db
def test_an_uploads_new_images_are_prepared_a_few_a_task(project, media_root, monkeypatch):
    """Each task sent after an upload prepares up to PREPARE_BATCH of its new images:
    seven new images (and a duplicate, not prepared again) are two tasks."""
    sent: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(flows.jobs, "enqueue", lambda name, *args: sent.append((name, args)))
    old = image_bytes(size=(40, 40))
    flows.images_ingest(project=project, files=[SimpleUploadedFile("old.png", old)])
    sent.clear()

    files = [SimpleUploadedFile(f"{n}.png", image_bytes(size=(41 + n, 40))) for n in range(7)]
    results = flows.images_ingest(
        project=project, files=[*files, SimpleUploadedFile("old-again.png", old)]
    )

    created = [r.image_id for r in results if r.status == "created"]
    prepares = [args[0] for name, args in sent if name == Task.IMAGES_PREPARE]
    assert flows.PREPARE_BATCH == 5
    assert prepares == [created[:5], created[5:]]
