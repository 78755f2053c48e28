"""Model inputs made from an upload's file alongside its thumbnail, for the sizes models take."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from PIL import ImageFile, ImageOps

from labeler import flows
from labeler.images.models import Image
from labeler.images.pixels.model_inputs import InputCache, input_cache, inputs_keep, prepare_bytes
from labeler.predictions.models import TrainingRun
from tests.factories import ModelVersionFactory, ProjectFactory, image_bytes
from tests.labeler.images import samples


def upload(project, content: bytes, capture) -> Image:
    with capture(execute=True):
        [result] = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("photo.jpg", content)]
        )
    return Image.objects.get(pk=result.image_id)


@pytest.fixture
def loads(monkeypatch) -> list[tuple[int, int]]:
    """The sizes of the images decoded from now on, one entry a decode."""
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def counted(self):
        if self.tile:  # pixels still to decode
            decoded.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted)
    return decoded


def kept_files(cache: InputCache) -> list[str]:
    return cache.kept()


@pytest.mark.django_db
def test_an_upload_keeps_the_input_of_its_projects_model(
    media_root, django_capture_on_commit_callbacks
):
    """The thumbnail task keeps the pixels the training config's model takes, under the
    file's sha256: made from the previews' decode, within a few levels of what the model's
    own decoding of the stored file gives (which decodes this JPEG at 1/4 scale)."""
    project = ProjectFactory(training={"image_size": 24})
    content = image_bytes("JPEG", size=(160, 120))
    image = upload(project, content, django_capture_on_commit_callbacks)
    cache = input_cache()
    assert cache is not None
    assert image.thumbnail
    assert kept_files(cache) == [f"24-rgb/{image.sha256}"]
    with image.file.open("rb") as handle:
        expected = prepare_bytes(handle.read(), image_size=24, grayscale=False)
    kept = cache.get(image.sha256, 24, False)
    assert kept is not None and kept.shape == expected.shape
    difference = np.abs(kept.astype(int) - expected.astype(int))
    assert difference.mean() <= 2 and difference.max() <= 12


def photo_jpeg(size: tuple[int, int], *, orientation: int = 1) -> bytes:
    """A photo-like JPEG: smooth colour fields with noise, turned by its EXIF."""
    rng = np.random.default_rng(7)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


@pytest.mark.django_db
def test_a_photos_previews_and_inputs_come_from_one_decode(
    media_root, django_capture_on_commit_callbacks, loads, settings
):
    """A 2400 x 1800 photo turned by its EXIF: decoded once, at half scale, for its display
    copy, thumbnail and both model inputs; each input within a few levels of the model's
    own decoding (1/8 scale there: each 8 x 8 block's mean, which the half-scale pixels
    reduced by four average again)."""
    settings.LABELER_DISPLAY_SIZE = 1200
    project = ProjectFactory(training={"image_size": 224})
    run = TrainingRun.objects.create(project=project, config={"image_size": 32})
    ModelVersionFactory(project=project, run=run)
    content = photo_jpeg((2400, 1800), orientation=6)
    image = upload(project, content, django_capture_on_commit_callbacks)

    assert image.thumbnail and image.display
    assert loads == [(1200, 900)]  # the previews' decode, and no other
    cache = input_cache()
    assert cache is not None
    for size in (32, 224):
        expected = prepare_bytes(content, image_size=size, grayscale=False)
        kept = cache.get(image.sha256, size, False)
        assert kept is not None and kept.shape == expected.shape == (3, size, size)
        difference = np.abs(kept.astype(int) - expected.astype(int))
        assert difference.mean() <= 2 and difference.max() <= 16


@pytest.mark.django_db
def test_the_current_models_input_is_kept_too(media_root, django_capture_on_commit_callbacks):
    """A current model trained at another size or mode gets its input as well."""
    project = ProjectFactory()
    run = TrainingRun.objects.create(project=project, config={"image_size": 16, "grayscale": True})
    ModelVersionFactory(project=project, run=run)
    image = upload(project, image_bytes(), django_capture_on_commit_callbacks)
    cache = input_cache()
    assert cache is not None
    assert cache.missing(image.sha256, {(32, False), (16, True)}) == set()
    assert cache.get(image.sha256, 16, True).shape == (1, 16, 16)


@pytest.mark.django_db
def test_a_rerun_makes_only_what_is_missing(media_root, django_capture_on_commit_callbacks):
    """With the thumbnail made, a new size (the config changed) is added; the rest stays."""
    project = ProjectFactory()
    image = upload(project, image_bytes(), django_capture_on_commit_callbacks)
    thumbnail = image.thumbnail.name
    project.training = {"image_size": 40}
    project.save()
    flows.image_prepare(image_id=image.pk)
    image.refresh_from_db()
    cache = input_cache()
    assert cache is not None
    assert image.thumbnail.name == thumbnail
    assert [name.split("/")[0] for name in kept_files(cache)] == ["32-rgb", "40-rgb"]


@pytest.mark.django_db
def test_large_inputs_and_no_cache_keep_nothing(
    media_root, settings, django_capture_on_commit_callbacks
):
    """Inputs over LABELER_INPUT_CACHE_MAX_SIZE are decoded each time; "" turns keeping off.
    The thumbnail is made either way."""
    project = ProjectFactory(training={"image_size": 256})
    image = upload(project, image_bytes(), django_capture_on_commit_callbacks)
    cache = input_cache()
    assert cache is not None and image.thumbnail
    assert kept_files(cache) == []
    settings.LABELER_INPUT_CACHE_DIR = ""
    assert input_cache() is None
    other = upload(ProjectFactory(), image_bytes(), django_capture_on_commit_callbacks)
    assert other.thumbnail
    assert kept_files(cache) == []


def test_a_file_that_does_not_decode_is_left_to_the_model(tmp_path, caplog):
    """Nothing is kept for it and nothing is raised: pre-labelling reports the bad file."""
    cache = InputCache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="labeler.images.pixels.model_inputs"):
        made = inputs_keep(cache, "a" * 64, b"not an image", {(32, False)})
    assert made == 0
    assert not list(tmp_path.rglob("*"))
    assert "Could not make the 32-pixel model input" in caplog.text


def test_inputs_keep_makes_each_missing_input_once(tmp_path):
    cache = InputCache(tmp_path)
    buffer = io.BytesIO()
    PILImage.new("RGB", (50, 40), (10, 200, 30)).save(buffer, format="PNG")
    specs = {(8, False), (8, True), (12, False)}
    assert inputs_keep(cache, "b" * 64, buffer.getvalue(), specs) == 3
    assert inputs_keep(cache, "b" * 64, buffer.getvalue(), specs) == 0
    assert cache.missing("b" * 64, specs | {(9, False)}) == {(9, False)}
    assert cache.get("b" * 64, 8, False)[:, 0, 0].tolist() == [10, 200, 30]


def test_a_turned_photo_gives_the_model_its_upright_pixels():
    """Originals are stored as sent: the EXIF says how to turn them, and the model gets the
    same upright pixels as from a file already turned (but for re-encoding's rounding)."""
    sent = samples.jpeg_turned()  # red on the left; turned, red on top
    with PILImage.open(io.BytesIO(sent)) as image:
        turned_image = ImageOps.exif_transpose(image)
    buffer = io.BytesIO()
    turned_image.save(buffer, format="JPEG", quality=95)

    before = prepare_bytes(sent, image_size=8, grayscale=False).astype(int)
    after = prepare_bytes(buffer.getvalue(), image_size=8, grayscale=False).astype(int)

    assert np.abs(before - after).max() <= 8
    red, _, blue = before[:, 1, 4]  # top row: red
    assert red > 150 and blue < 100


def test_inputs_sharing_a_draft_are_decoded_once_with_the_pixels_prepare_bytes_gives(
    tmp_path, loads
):
    """A photo's 32- and 224-pixel inputs both come from its 1/8-scale decode: one decode,
    each input the same pixels as prepare_bytes makes from the file."""
    data = image_bytes("JPEG", size=(2400, 1800))
    cache = InputCache(tmp_path, max_size=224)

    assert inputs_keep(cache, "a" * 64, data, [(32, False), (224, False)]) == 2

    assert loads == [(300, 225)]  # 2400 x 1800 at 1/8 scale, once
    for size in (32, 224):
        expected = prepare_bytes(data, image_size=size, grayscale=False)
        assert np.array_equal(cache.get("a" * 64, size, False), expected)
